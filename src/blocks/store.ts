// A bounded store of verified blocks, on disk (one file per block) or in memory (no datadir),
// pruned oldest first. A file is written to a temporary name, fsynced, then renamed, so a crash
// or kill -9 leaves either the whole block or nothing under its real name; every read re-checks
// the file's length and SHA-256, so a file damaged later (power loss before the disk flushed, a
// bad sector) is dropped and counted, never served. Blocks are kept as the bytes that were
// verified; nothing here parses them.
//
// File: <seq, 12 digits>-<block hash hex>.blk = "ALTB" | height u32le | length u32le |
// sha256(block) 32 B | block. The sequence number orders blocks oldest first across restarts.
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from '../util/log.js';
import type { Counters } from '../util/counters.js';
import { equalBytes, hashToHex, readU32LE, writeU32LE } from '../util/bytes.js';

const MAGIC = [0x41, 0x4c, 0x54, 0x42]; // "ALTB"
const HEAD = 4 + 4 + 4 + 32;
const NAME = /^(\d{12})-([0-9a-f]{64})\.blk$/;

/** Default bound: ~300 MB, a couple of hundred recent mainnet blocks. */
export const DEFAULT_BLOCK_CACHE_BYTES = 300_000_000;

export interface BlockStoreOptions {
  /** Directory of the block files; undefined keeps blocks in memory (same bound). */
  dir?: string;
  maxBytes?: number;
  log: Logger;
  counters: Counters;
}

interface Entry {
  seq: number;
  height: number;
  /** Bytes this entry costs (file size, or block size in memory). */
  bytes: number;
  /** In-memory mode only. */
  raw?: Uint8Array;
  file?: string;
}

export class BlockStore {
  private readonly entries = new Map<string, Entry>();
  private seq = 0;
  private total = 0;
  readonly maxBytes: number;

  private constructor(private readonly opts: BlockStoreOptions) {
    this.maxBytes = opts.maxBytes ?? DEFAULT_BLOCK_CACHE_BYTES;
  }

  /** Opens (creating) the store; temporary files of an interrupted write are removed. */
  static open(opts: BlockStoreOptions): BlockStore {
    const s = new BlockStore(opts);
    if (opts.dir) s.scan(opts.dir);
    return s;
  }

  get count(): number {
    return this.entries.size;
  }

  get bytes(): number {
    return this.total;
  }

  has(hash: Uint8Array): boolean {
    return this.entries.has(hashToHex(hash));
  }

  heightOf(hash: Uint8Array): number | undefined {
    return this.entries.get(hashToHex(hash))?.height;
  }

  /** The block's bytes, or undefined when absent or found damaged (then dropped and counted). */
  get(hash: Uint8Array): Uint8Array | undefined {
    const key = hashToHex(hash);
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.raw) return e.raw;
    try {
      const file = readFileSync(e.file!);
      const raw = this.check(new Uint8Array(file.buffer, file.byteOffset, file.length));
      if (raw) return raw;
      this.opts.counters.inc('blocks.store.damaged');
      this.opts.log.warn('stored block is damaged; dropped (it will be fetched again if needed)', { hash: key, file: e.file });
    } catch (err) {
      this.opts.counters.inc('blocks.store.read_errors');
      this.opts.log.warn('could not read a stored block', { hash: key, error: (err as Error).message });
    }
    this.remove(key);
    return undefined;
  }

  /**
   * Keeps a verified block. Returns false (counted, logged) when it could not be written, e.g. a
   * full disk: the caller still has the bytes and can deliver them.
   */
  put(hash: Uint8Array, height: number, raw: Uint8Array): boolean {
    const key = hashToHex(hash);
    if (this.entries.has(key)) return true;
    const seq = ++this.seq;
    let entry: Entry;
    if (!this.opts.dir) {
      entry = { seq, height, bytes: raw.length, raw };
    } else {
      const name = `${String(seq).padStart(12, '0')}-${key}.blk`;
      const file = join(this.opts.dir, name);
      const tmp = file + '.tmp';
      const head = new Uint8Array(HEAD);
      head.set(MAGIC, 0);
      writeU32LE(head, 4, height);
      writeU32LE(head, 8, raw.length);
      head.set(createHash('sha256').update(raw).digest(), 12);
      let fd: number | undefined;
      try {
        fd = openSync(tmp, 'w');
        writeAll(fd, head);
        writeAll(fd, raw);
        fsyncSync(fd);
        closeSync(fd);
        fd = undefined;
        renameSync(tmp, file);
      } catch (err) {
        if (fd !== undefined) closeSync(fd);
        rmSync(tmp, { force: true });
        this.opts.counters.inc('blocks.store.write_errors');
        this.opts.log.error('could not store a block; it is kept only until delivered', { hash: key, error: (err as Error).message });
        return false;
      }
      entry = { seq, height, bytes: HEAD + raw.length, file };
    }
    this.entries.set(key, entry);
    this.total += entry.bytes;
    this.opts.counters.inc('blocks.store.added');
    this.prune();
    return true;
  }

  /** Drops oldest blocks until the store is within its bound (the newest block always stays). */
  private prune(): void {
    while (this.total > this.maxBytes && this.entries.size > 1) {
      const [oldest] = this.entries.keys();
      this.remove(oldest);
      this.opts.counters.inc('blocks.store.pruned');
    }
  }

  private remove(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    this.total -= e.bytes;
    if (e.file) rmSync(e.file, { force: true });
  }

  /** Verifies a file's frame; returns the block bytes or undefined. */
  private check(buf: Uint8Array): Uint8Array | undefined {
    if (buf.length < HEAD || MAGIC.some((b, i) => buf[i] !== b)) return undefined;
    const len = readU32LE(buf, 8);
    if (buf.length !== HEAD + len) return undefined;
    const raw = buf.subarray(HEAD);
    if (!equalBytes(createHash('sha256').update(raw).digest(), buf.subarray(12, 44))) return undefined;
    return raw;
  }

  private scan(dir: string): void {
    mkdirSync(dir, { recursive: true });
    const found: Array<{ seq: number; key: string; file: string }> = [];
    for (const name of readdirSync(dir)) {
      const file = join(dir, name);
      if (name.endsWith('.tmp')) {
        // An interrupted write: never renamed, so never served.
        rmSync(file, { force: true });
        this.opts.counters.inc('blocks.store.torn_removed');
        continue;
      }
      const m = NAME.exec(name);
      if (!m) continue;
      found.push({ seq: Number(m[1]), key: m[2], file });
    }
    found.sort((a, b) => a.seq - b.seq);
    for (const f of found) {
      // Cheap check at open (frame and length); the content hash is checked on every read.
      const head = new Uint8Array(HEAD);
      let size = 0;
      try {
        size = statSync(f.file).size;
        const fd = openSync(f.file, 'r');
        try {
          readSync(fd, head, 0, HEAD, 0);
        } finally {
          closeSync(fd);
        }
      } catch {
        size = 0;
      }
      if (size < HEAD || MAGIC.some((b, i) => head[i] !== b) || size !== HEAD + readU32LE(head, 8) || this.entries.has(f.key)) {
        rmSync(f.file, { force: true });
        this.opts.counters.inc('blocks.store.torn_removed');
        continue;
      }
      this.entries.set(f.key, { seq: f.seq, height: readU32LE(head, 4), bytes: size, file: f.file });
      this.total += size;
      this.seq = Math.max(this.seq, f.seq);
    }
    if (this.entries.size) this.opts.log.info('block store opened', { blocks: this.entries.size, bytes: this.total, dir });
    this.prune();
  }
}

function writeAll(fd: number, data: Uint8Array): void {
  let o = 0;
  while (o < data.length) o += writeSync(fd, data, o, data.length - o);
}
