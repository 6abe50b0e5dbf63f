// Append-only header file. Each record is the 80-byte header and a CRC-32 of it; every append is
// fsynced before it returns. A crash can leave a partial record or a record whose bytes did not
// all reach the disk: on open both are detected (length, CRC) and cut off, never trusted. Records
// that survive the CRC are still re-validated by HeaderChain.open, which cuts at the first one
// that breaks a rule.
//
// Layout: a 56-byte file header (magic "ALTNETHC", format version, network magic, root height,
// root hash, CRC-32 of those 52 bytes), then 84-byte records. The root identifies the checkpoint
// (or genesis) the chain grows from, so a file is never replayed onto another network or root.
import { closeSync, existsSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { HEADER_SIZE } from './header.js';
import { equalBytes, hashToHex, readU32LE, toHex, writeU32LE } from '../util/bytes.js';
import { AltnetError, ConfigError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import type { Counters } from '../util/counters.js';
import { fsyncDir } from '../util/durable.js';
import { crc32 } from '../codec/crc.js';

export const STORE_MAGIC = new TextEncoder().encode('ALTNETHC');
export const STORE_FORMAT_VERSION = 1;
export const FILE_HEADER_SIZE = 56;
export const RECORD_SIZE = HEADER_SIZE + 4;

/** Where headers go once accepted. append() must be durable when it returns. */
export interface HeaderStore {
  append(headers: readonly Uint8Array[]): void;
  close(): void;
}

/** Which chain a file belongs to. */
export interface StoreIdentity {
  networkMagic: Uint8Array;
  rootHeight: number;
  /** Internal byte order. */
  rootHash: Uint8Array;
}

export interface StoreCut {
  /** Number of good records kept. */
  keptRecords: number;
  /** Bytes removed from the end of the file. */
  droppedBytes: number;
  reason: 'partial-record' | 'bad-checksum' | 'invalid-header';
}

export interface OpenedStore {
  store: FileHeaderStore;
  /** The loaded headers, 80 bytes each, concatenated in file order. */
  headers: Uint8Array;
  count: number;
  cut?: StoreCut;
}

/**
 * CRC-32 (zlib's) of b[offset..offset+length], by the project's table-driven crc32 (codec/crc.ts)
 * rather than node:zlib's: loading node:zlib for it cost the daemon's main process 0.12 MB of
 * anonymous memory (issue 18; a bare Node with net, child_process, fs/promises and perf_hooks
 * loaded, Pss_Anon median of 3 runs: 6292 kB, 6416 with node:zlib's crc32).
 */
function crcOf(b: Uint8Array, offset: number, length: number): number {
  return crc32(b, offset, offset + length);
}

function encodeFileHeader(id: StoreIdentity): Uint8Array {
  const h = new Uint8Array(FILE_HEADER_SIZE);
  h.set(STORE_MAGIC, 0);
  writeU32LE(h, 8, STORE_FORMAT_VERSION);
  h.set(id.networkMagic, 12);
  writeU32LE(h, 16, id.rootHeight);
  h.set(id.rootHash, 20);
  writeU32LE(h, 52, crcOf(h, 0, 52));
  return h;
}

/** Makes a new file's directory entry durable too; best effort, as not every platform allows it. */
function fsyncParentDir(path: string): void {
  try {
    fsyncDir(dirname(path));
  } catch {
    /* best effort */
  }
}

function writeAll(fd: number, buf: Uint8Array, position: number): void {
  let done = 0;
  while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done, position + done);
}

export class FileHeaderStore implements HeaderStore {
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly fd: number,
    private length: number,
    private readonly log: Logger,
    private readonly counters: Counters,
  ) {}

  /** Opens (or creates) the file, cutting a torn or corrupt tail. Synchronous I/O: called at start-up. */
  static open(path: string, id: StoreIdentity, log: Logger, counters: Counters): OpenedStore {
    const fresh = !existsSync(path);
    let fd: number;
    try {
      fd = openSync(path, fresh ? 'w+' : 'r+');
    } catch (err) {
      throw new ConfigError(
        'store-open',
        `cannot open the header file ${path}: ${(err as Error).message}; check the path and its permissions`,
        { cause: err },
      );
    }
    try {
      const size = fstatSync(fd).size;
      if (size < FILE_HEADER_SIZE) {
        // New file, or a crash while creating it (no record can exist yet): (re)write the header,
        // but only over bytes that are a prefix of that same header, never over someone's file.
        const header = encodeFileHeader(id);
        if (size > 0) {
          const existing = new Uint8Array(size);
          readSync(fd, existing, 0, size, 0);
          if (!equalBytes(existing, header.subarray(0, size))) {
            throw new ConfigError('store-not-header-file', `${path} is not an altnet header file; move it away or choose another path`);
          }
        }
        ftruncateSync(fd, 0);
        writeAll(fd, header, 0);
        fsyncSync(fd);
        if (fresh) fsyncParentDir(path);
        if (size > 0) log.warn('header file had an incomplete file header; rewrote it', { path, size });
        return { store: new FileHeaderStore(path, fd, FILE_HEADER_SIZE, log, counters), headers: new Uint8Array(0), count: 0 };
      }
      const data = new Uint8Array(size);
      let got = 0;
      while (got < size) {
        const n = readSync(fd, data, got, size - got, got);
        if (n === 0) break;
        got += n;
      }
      checkFileHeader(path, data, id);
      const records = Math.floor((size - FILE_HEADER_SIZE) / RECORD_SIZE);
      const headers = new Uint8Array(records * HEADER_SIZE);
      let count = 0;
      let reason: StoreCut['reason'] | undefined;
      for (; count < records; count++) {
        const o = FILE_HEADER_SIZE + count * RECORD_SIZE;
        if (crcOf(data, o, HEADER_SIZE) !== readU32LE(data, o + HEADER_SIZE)) {
          reason = 'bad-checksum';
          break;
        }
        headers.set(data.subarray(o, o + HEADER_SIZE), count * HEADER_SIZE);
      }
      if (!reason && FILE_HEADER_SIZE + records * RECORD_SIZE !== size) reason = 'partial-record';
      const store = new FileHeaderStore(path, fd, FILE_HEADER_SIZE + count * RECORD_SIZE, log, counters);
      let cut: StoreCut | undefined;
      if (reason) cut = store.cutTo(count, reason, size);
      return { store, headers: headers.subarray(0, count * HEADER_SIZE), count, cut };
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  /** Number of records in the file. */
  get records(): number {
    return (this.length - FILE_HEADER_SIZE) / RECORD_SIZE;
  }

  /** Cuts the file back to `keep` records (a tail that failed re-validation). */
  truncateRecords(keep: number, reason: StoreCut['reason']): StoreCut {
    return this.cutTo(keep, reason, this.length);
  }

  private cutTo(keep: number, reason: StoreCut['reason'], sizeBefore: number): StoreCut {
    const newLength = FILE_HEADER_SIZE + keep * RECORD_SIZE;
    ftruncateSync(this.fd, newLength);
    fsyncSync(this.fd);
    this.length = newLength;
    const cut: StoreCut = { keptRecords: keep, droppedBytes: sizeBefore - newLength, reason };
    this.counters.inc(`store.cut.${reason}`);
    this.log.warn('cut the tail of the header file; the headers before it are kept and will be fetched again from peers', {
      path: this.path,
      reason,
      keptRecords: keep,
      droppedBytes: cut.droppedBytes,
    });
    return cut;
  }

  append(headers: readonly Uint8Array[]): void {
    if (this.closed) throw new AltnetError('store-closed', `header file ${this.path} is closed`);
    if (headers.length === 0) return;
    const buf = new Uint8Array(headers.length * RECORD_SIZE);
    for (let i = 0; i < headers.length; i++) {
      const o = i * RECORD_SIZE;
      buf.set(headers[i], o);
      writeU32LE(buf, o + HEADER_SIZE, crcOf(buf, o, HEADER_SIZE));
    }
    try {
      writeAll(this.fd, buf, this.length);
      fsyncSync(this.fd);
    } catch (err) {
      this.counters.inc('store.write-failed');
      // Leave no partial record behind if we can; open() would cut it anyway.
      try {
        ftruncateSync(this.fd, this.length);
      } catch {
        /* the next open cuts it */
      }
      throw new AltnetError(
        'store-write-failed',
        `could not write to the header file ${this.path}: ${(err as Error).message}; check free disk space and permissions`,
        { cause: err },
      );
    }
    this.length += buf.length;
    this.counters.inc('store.appended', headers.length);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}

function checkFileHeader(path: string, data: Uint8Array, id: StoreIdentity): void {
  const h = data.subarray(0, FILE_HEADER_SIZE);
  if (!equalBytes(h.subarray(0, 8), STORE_MAGIC) || crcOf(h, 0, 52) !== readU32LE(h, 52)) {
    throw new ConfigError(
      'store-not-header-file',
      `${path} is not an altnet header file (or its file header is damaged); move it away and restart`,
    );
  }
  const version = readU32LE(h, 8);
  if (version !== STORE_FORMAT_VERSION) {
    throw new ConfigError('store-format', `${path} has format version ${version}, this altnet reads version ${STORE_FORMAT_VERSION}`);
  }
  if (!equalBytes(h.subarray(12, 16), id.networkMagic)) {
    throw new ConfigError(
      'store-network',
      `${path} holds headers of another network (magic ${toHex(h.subarray(12, 16))}); use a separate data directory per network`,
    );
  }
  if (readU32LE(h, 16) !== id.rootHeight || !equalBytes(h.subarray(20, 52), id.rootHash)) {
    throw new ConfigError(
      'store-root',
      `${path} grows from block ${hashToHex(h.subarray(20, 52))} at height ${readU32LE(h, 16)}, not from the configured checkpoint at ${id.rootHeight}; move the file away to start over`,
    );
  }
}
