// Emergency transaction send: the durable store of transactions waiting to reach the network,
// and the schedule that keeps re-sending them until the node reports seeing them.
//
// On disk (datadir/outbox/<network>/):
//   <txid>.json     one pending transaction; written once (temp file, fsync, rename, dir fsync)
//                   by `altnet send-tx` or Outbox.submit, never rewritten; deleting it by hand
//                   cancels the send
//   done/           entries the node announced back (kept as a record of what was sent)
//   expired/        entries that were not seen within the expiry (14 days)
//   bad/            files that did not parse or validate, moved aside (never deleted)
//   .tmp-*          a write in progress (or torn by a crash); never read as an entry
// The per-network folder keeps a testnet transaction off a mainnet daemon sharing a datadir.
//
// The resend schedule lives in memory only: entry files stay write-once, so a crash at any
// moment leaves either no entry or a whole one, and a restarted daemon simply sends every
// pending transaction again at once, which is what one wants after a crash.
import { existsSync, readdirSync, readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type { Transaction } from 'bitcoinjs-lib';
import type { Logger } from '../util/log.js';
import type { Counters } from '../util/counters.js';
import { AltnetError, InvalidDataError, MalformedInputError } from '../util/errors.js';
import { fromHex, hashToHex, toHex } from '../util/bytes.js';
import { DURABLE_TMP_PREFIX, ensureDir, moveDurably, writeFileDurably } from '../util/durable.js';

/** Bitcoin Core's standardness limit (MAX_STANDARD_TX_WEIGHT / 4): larger ones are not relayed. */
export const MAX_TX_VSIZE = 100_000;
export const ENTRY_FORMAT = 'altnet-outbox-1';
const TXID_FILE_RE = /^[0-9a-f]{64}\.json$/;

export interface CheckedTx {
  raw: Uint8Array;
  /** Display order (as block explorers and bitcoin-cli show it). */
  txid: string;
  wtxid: string;
  vsize: number;
  inputs: number;
  outputs: number;
}

/** What a CLI user may paste: hex with surrounding whitespace; line breaks inside are allowed. */
export function parseTxHex(text: string): Uint8Array {
  const hex = text.replace(/\s+/g, '');
  if (hex.length === 0) throw new MalformedInputError('tx-empty', 'no transaction given: pass the raw transaction as hex (from signrawtransactionwithwallet or your wallet\'s export)');
  const bad = /[^0-9a-fA-F]/.exec(hex);
  if (bad) throw new MalformedInputError('tx-not-hex', `the transaction is not hex: character ${JSON.stringify(bad[0])} at position ${bad.index + 1}`);
  if (hex.length % 2) throw new MalformedInputError('tx-not-hex', `the transaction hex has an odd number of digits (${hex.length}); a digit is missing, was it cut off?`);
  if (hex.length > 8 * MAX_TX_VSIZE) throw new InvalidDataError('tx-too-large', `the transaction is ${hex.length / 2} bytes; transactions over ${MAX_TX_VSIZE / 1000} kvB are not relayed by the network`);
  return fromHex(hex);
}

function readVarInt(b: Uint8Array, o: number): [number, number] | undefined {
  if (o >= b.length) return undefined;
  const first = b[o];
  const len = first < 0xfd ? 0 : first === 0xfd ? 2 : first === 0xfe ? 4 : 8;
  if (o + 1 + len > b.length) return undefined;
  if (len === 0) return [first, o + 1];
  let v = 0;
  for (let i = len - 1; i >= 0; i--) v = v * 256 + b[o + 1 + i];
  return [v, o + 1 + len];
}

/**
 * A zero-input transaction starts like a segwit one (version, 0x00, then 0x01 as the output
 * count), so a failed segwit parse may be a well-formed transaction without inputs. Bitcoin
 * Core tries both readings too; this one only says whether the legacy reading fits exactly.
 */
function isLegacyWithoutInputs(b: Uint8Array): boolean {
  if (b.length < 10 || b[4] !== 0) return false;
  let r = readVarInt(b, 5);
  if (!r) return false;
  let [n, o] = r;
  for (let i = 0; i < n; i++) {
    o += 8;
    r = readVarInt(b, o);
    if (!r) return false;
    o = r[1] + r[0];
    if (o > b.length) return false;
  }
  return o + 4 === b.length;
}

/**
 * Parses and checks a transaction the way it must be before it is worth airtime: it parses
 * completely and canonically, has inputs and outputs, is not a coinbase, and is within the
 * relay size limit. Everything else (signatures, fees, inputs' existence) is the node's job.
 */
// bitcoinjs-lib costs the daemon about 5 MB of memory; it is loaded on the first transaction.
const requireHere = createRequire(import.meta.url);
let transactionClass: typeof Transaction | undefined;
function TransactionClass(): typeof Transaction {
  return (transactionClass ??= (requireHere('bitcoinjs-lib') as typeof import('bitcoinjs-lib')).Transaction);
}

export function checkTransaction(input: string | Uint8Array): CheckedTx {
  const raw = typeof input === 'string' ? parseTxHex(input) : input;
  if (raw.length > 4 * MAX_TX_VSIZE) throw new InvalidDataError('tx-too-large', `the transaction is ${raw.length} bytes; transactions over ${MAX_TX_VSIZE / 1000} kvB are not relayed by the network`);
  if (raw.length < 10) throw new MalformedInputError('tx-malformed', `${raw.length} bytes is too short to be a transaction (at least 10); was it cut off?`);
  let tx: Transaction;
  try {
    tx = TransactionClass().fromBuffer(Buffer.from(raw.buffer, raw.byteOffset, raw.length));
  } catch (err) {
    if (isLegacyWithoutInputs(raw)) throw new InvalidDataError('tx-no-inputs', 'the transaction has no inputs; it spends nothing, so no node will accept it');
    const why = (err as Error).message;
    if (/superfluous witness/i.test(why)) throw new MalformedInputError('tx-noncanonical', 'the transaction has a segwit marker but no witness data (not canonical; nodes reject it); re-export it from the wallet');
    const hint = /unexpected data/i.test(why) ? 'there are extra bytes after its end' : 'it ends too early (truncated) or its fields are garbled';
    throw new MalformedInputError('tx-malformed', `the transaction does not parse: ${hint} (${why}); give the complete signed raw transaction in hex`);
  }
  if (tx.ins.length === 0) throw new InvalidDataError('tx-no-inputs', 'the transaction has no inputs; it spends nothing, so no node will accept it');
  if (tx.outs.length === 0) throw new InvalidDataError('tx-no-outputs', 'the transaction has no outputs; no node will accept it');
  if (!equalBuffers(tx.toBuffer(), raw)) {
    // e.g. a segwit marker with only empty witnesses: Core rejects it as "superfluous witness record".
    throw new MalformedInputError('tx-noncanonical', 'the transaction is not in canonical serialization (a segwit marker with no witness data?); re-export it from the wallet');
  }
  if (tx.isCoinbase()) throw new InvalidDataError('tx-coinbase', 'this is a coinbase transaction; only miners create those, in blocks');
  const vsize = tx.virtualSize();
  if (vsize > MAX_TX_VSIZE) throw new InvalidDataError('tx-too-large', `the transaction is ${vsize} vB; transactions over ${MAX_TX_VSIZE} vB are not relayed by the network`);
  return {
    raw,
    txid: tx.getId(),
    wtxid: hashToHex(tx.getHash(true)),
    vsize,
    inputs: tx.ins.length,
    outputs: tx.outs.length,
  };
}

function equalBuffers(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The JSON in <txid>.json. */
export interface OutboxEntry {
  format: typeof ENTRY_FORMAT;
  txid: string;
  wtxid: string;
  hex: string;
  /** ISO time the transaction was submitted; the expiry counts from here. */
  addedAt: string;
  /** Who put it there (cli, api). */
  source: string;
}

export function outboxDir(datadir: string, network: string): string {
  return join(datadir, 'outbox', network);
}

export type SubmitOutcome =
  | { status: 'queued'; path: string; tx: CheckedTx }
  | { status: 'already-pending'; path: string; tx: CheckedTx; addedAt: string }
  | { status: 'already-done'; path: string; tx: CheckedTx; doneAt: string };

/**
 * Validates a transaction and stores it as pending (what `altnet send-tx` does; the daemon
 * picks it up). Submitting the same transaction again is a no-op that says so; one already
 * seen by the network is queued again only with `again`.
 */
export function submitToOutbox(dir: string, input: string | Uint8Array, opts: { source?: string; again?: boolean; now?: () => number } = {}): SubmitOutcome {
  const tx = checkTransaction(input);
  const name = `${tx.txid}.json`;
  const path = join(dir, name);
  const existing = readEntryIfValid(path);
  if (existing) return { status: 'already-pending', path, tx, addedAt: existing.addedAt };
  // A damaged file under this name is kept (moved aside), never overwritten.
  if (existsSync(path)) moveDurably(path, join(dir, 'bad'), `${name}.${opts.now?.() ?? Date.now()}`);
  const donePath = join(dir, 'done', name);
  if (!opts.again && existsSync(donePath)) {
    return { status: 'already-done', path: donePath, tx, doneAt: new Date(statSync(donePath).mtimeMs).toISOString() };
  }
  const entry: OutboxEntry = {
    format: ENTRY_FORMAT,
    txid: tx.txid,
    wtxid: tx.wtxid,
    hex: toHex(tx.raw),
    addedAt: new Date(opts.now?.() ?? Date.now()).toISOString(),
    source: opts.source ?? 'cli',
  };
  writeFileDurably(dir, name, JSON.stringify(entry, null, 1) + '\n');
  return { status: 'queued', path, tx };
}

function readEntryIfValid(path: string): OutboxEntry | undefined {
  try {
    return parseEntry(readFileSync(path, 'utf8'), path.slice(path.lastIndexOf('/') + 1)).entry;
  } catch {
    return undefined;
  }
}

/** Parses and re-validates an entry file's text; throws a typed error saying what is wrong. */
export function parseEntry(text: string, fileName: string): { entry: OutboxEntry; tx: CheckedTx } {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (err) {
    throw new MalformedInputError('outbox-bad-json', `not JSON: ${(err as Error).message}`);
  }
  const e = obj as Partial<OutboxEntry> | null;
  if (!e || typeof e !== 'object') throw new MalformedInputError('outbox-bad-entry', 'not a JSON object');
  if (e.format !== ENTRY_FORMAT) throw new MalformedInputError('outbox-bad-entry', `format is ${JSON.stringify(e.format)}, expected ${ENTRY_FORMAT}`);
  if (typeof e.hex !== 'string' || typeof e.txid !== 'string' || typeof e.addedAt !== 'string') throw new MalformedInputError('outbox-bad-entry', 'hex, txid or addedAt missing');
  if (!Number.isFinite(Date.parse(e.addedAt))) throw new MalformedInputError('outbox-bad-entry', `addedAt ${JSON.stringify(e.addedAt)} is not a date`);
  const tx = checkTransaction(e.hex);
  if (tx.txid !== e.txid) throw new MalformedInputError('outbox-txid-mismatch', `the transaction's txid is ${tx.txid}, the entry says ${e.txid}`);
  if (fileName !== `${tx.txid}.json`) throw new MalformedInputError('outbox-bad-name', `file name should be ${tx.txid}.json`);
  return { entry: { ...(e as OutboxEntry), wtxid: tx.wtxid }, tx };
}

export interface SendResult {
  /** Links the transaction was handed to. */
  links: string[];
  /** Node connections it was handed to. */
  nodePeers: number;
}

export interface PendingTxStatus {
  txid: string;
  wtxid: string;
  vsize: number;
  addedAt: string;
  attempts: number;
  lastSentAt?: string;
  lastLinks: string[];
  nextAttemptAt: string;
  expiresAt: string;
}

export interface OutboxSchedule {
  /** Wait after the first send; doubles after every send. */
  firstMs: number;
  maxMs: number;
  /** Counted from addedAt; then the entry moves to expired/. */
  expireMs: number;
}

export const DEFAULT_SCHEDULE: OutboxSchedule = { firstMs: 30_000, maxMs: 30 * 60_000, expireMs: 14 * 24 * 3600_000 };

export interface OutboxDeps {
  /** outboxDir(datadir, network). */
  dir: string;
  log: Logger;
  /** Scoped by the outbox as `outbox.`. */
  counters: Counters;
  /** Hands the transaction to every link and node connection that takes it. */
  send(raw: Uint8Array): SendResult;
  /** Milliseconds since the epoch. */
  now?: () => number;
  schedule?: Partial<OutboxSchedule>;
  /** How often the directory is rescanned and due sends go out (also on fs.watch events). */
  rescanMs?: number;
  /** Repeating timer; returns its cancel function. Injected by tests. */
  every?: (ms: number, fn: () => void) => () => void;
  /** fs.watch the directory for quicker pick-up (default true). */
  watch?: boolean;
  /** Most entries held in memory (each up to 400 kB); more wait on disk until some are done. */
  maxPending?: number;
}

export const DEFAULT_MAX_PENDING = 1000;

interface Pending {
  entry: OutboxEntry;
  tx: CheckedTx;
  file: string;
  addedAtMs: number;
  /** Internal byte order, hex: what an inv carries. */
  keys: [string, string];
  attempts: number;
  lastSentAt?: number;
  lastLinks: string[];
  nextAttemptAt: number;
  /** Logged once that there was nowhere to send it. */
  toldNowhere: boolean;
}

function internalKey(displayHex: string): string {
  return toHex(fromHex(displayHex).reverse());
}

/** The daemon side: picks up entries, sends them on schedule, retires them when seen. */
export class Outbox {
  private readonly pendingByTxid = new Map<string, Pending>();
  private readonly byInvKey = new Map<string, Pending>();
  private readonly schedule: OutboxSchedule;
  private readonly counters: Counters;
  private cancelTimer: (() => void) | undefined;
  private watcher: FSWatcher | undefined;
  private scanQueued = false;
  private stopped = false;
  /** Names already complained about (unreadable), so a stuck file logs once, not every scan. */
  private readonly warned = new Set<string>();

  constructor(private readonly deps: OutboxDeps) {
    this.schedule = { ...DEFAULT_SCHEDULE, ...deps.schedule };
    this.counters = deps.counters.scoped('outbox.');
  }

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }

  get dir(): string {
    return this.deps.dir;
  }

  /** Loads what is on disk, sends what is due, then keeps watching. */
  start(): void {
    ensureDir(this.deps.dir);
    this.stopped = false;
    this.poll();
    const every =
      this.deps.every ??
      ((ms: number, fn: () => void) => {
        const t = setInterval(fn, ms);
        t.unref();
        return () => clearInterval(t);
      });
    this.cancelTimer = every(this.deps.rescanMs ?? 2000, () => this.poll());
    if (this.deps.watch ?? true) {
      try {
        this.watcher = watch(this.deps.dir, () => this.queuePoll());
        this.watcher.on('error', (err) => {
          this.deps.log.warn('outbox watch failed; relying on the periodic rescan', { error: err.message });
          this.watcher?.close();
          this.watcher = undefined;
        });
        this.watcher.unref();
      } catch (err) {
        this.deps.log.warn('cannot watch the outbox; relying on the periodic rescan', { dir: this.deps.dir, error: (err as Error).message });
      }
    }
  }

  stop(): void {
    this.stopped = true;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.watcher?.close();
    this.watcher = undefined;
  }

  private queuePoll(): void {
    if (this.scanQueued || this.stopped) return;
    this.scanQueued = true;
    // A burst of watch events (temp file, rename) becomes one scan.
    setTimeout(() => {
      this.scanQueued = false;
      if (!this.stopped) this.poll();
    }, 50).unref();
  }

  /** One rescan and one round of due sends; never throws. */
  poll(): void {
    try {
      this.scan();
      this.tick();
    } catch (err) {
      this.counters.inc('errors');
      this.deps.log.error('outbox poll failed; will retry', { dir: this.deps.dir, error: (err as Error).message });
    }
  }

  /** Reads the directory: picks up new entries, moves bad files aside, forgets removed ones. Returns how many were picked up. */
  scan(): number {
    const { dir, log } = this.deps;
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') names = [];
      else throw err;
    }
    const present = new Set<string>();
    let picked = 0;
    for (const name of names) {
      const path = join(dir, name);
      if (name.startsWith(DURABLE_TMP_PREFIX)) {
        this.maybeRetireTemp(path, name);
        continue;
      }
      if (TXID_FILE_RE.test(name)) {
        const txid = name.slice(0, 64);
        present.add(txid);
        if (this.pendingByTxid.has(txid)) continue;
        if (this.pendingByTxid.size >= (this.deps.maxPending ?? DEFAULT_MAX_PENDING)) {
          if (!this.warned.has('full')) this.deps.log.warn('too many pending transactions; the rest wait on disk until some are done', { pending: this.pendingByTxid.size });
          this.warned.add('full');
          this.counters.inc('deferred');
          continue;
        }
        if (this.load(path, name)) picked++;
        continue;
      }
      let isDir = false;
      try {
        isDir = statSync(path).isDirectory();
      } catch {
        continue; // gone meanwhile
      }
      if (isDir) continue; // done/, bad/, expired/
      this.moveAside(path, name, 'file name is not <txid>.json');
    }
    for (const [txid, p] of this.pendingByTxid) {
      if (present.has(txid)) continue;
      this.forget(p);
      this.counters.inc('cancelled');
      log.info('pending transaction removed from the outbox by hand; no longer sent', { txid });
    }
    this.counters.set('pending', this.pendingByTxid.size);
    return picked;
  }

  private load(path: string, name: string): boolean {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return false;
      this.counters.inc('read_errors');
      if (!this.warned.has(name)) this.deps.log.warn('cannot read outbox entry; will retry', { file: path, error: (err as Error).message });
      this.warned.add(name);
      return false;
    }
    let parsed: { entry: OutboxEntry; tx: CheckedTx };
    try {
      parsed = parseEntry(text, name);
    } catch (err) {
      const code = err instanceof AltnetError ? err.code : 'internal';
      this.moveAside(path, name, `${code}: ${(err as Error).message}`);
      return false;
    }
    const { entry, tx } = parsed;
    const p: Pending = {
      entry,
      tx,
      file: path,
      addedAtMs: Date.parse(entry.addedAt),
      keys: [internalKey(tx.txid), internalKey(tx.wtxid)],
      attempts: 0,
      lastLinks: [],
      nextAttemptAt: this.now(),
      toldNowhere: false,
    };
    this.pendingByTxid.set(tx.txid, p);
    for (const k of p.keys) this.byInvKey.set(k, p);
    this.warned.delete(name);
    this.warned.delete('full');
    this.counters.inc('picked_up');
    this.deps.log.info('pending transaction picked up', { txid: tx.txid, vsize: tx.vsize, addedAt: entry.addedAt, source: entry.source });
    return true;
  }

  /** A crashed writer's temp file: never an entry (the writer had not reported success). */
  private maybeRetireTemp(path: string, name: string): void {
    try {
      if (this.now() - statSync(path).mtimeMs < 10 * 60_000) return; // a write may be in progress
    } catch {
      return;
    }
    this.moveAside(path, name, 'unfinished write left by a crashed writer');
  }

  private moveAside(path: string, name: string, reason: string): void {
    const badName = `${name}.${this.now()}`;
    try {
      const to = moveDurably(path, join(this.deps.dir, 'bad'), badName);
      this.counters.inc('bad');
      this.deps.log.warn('outbox file is not a valid entry; moved aside', { file: path, to, reason });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      this.counters.inc('errors');
      this.deps.log.error('cannot move a bad outbox file aside; leaving it', { file: path, reason, error: (err as Error).message });
    }
  }

  private forget(p: Pending): void {
    this.pendingByTxid.delete(p.tx.txid);
    for (const k of p.keys) this.byInvKey.delete(k);
  }

  /** Delay after the n-th send (n >= 1): firstMs, 2x, 4x ... capped. */
  delayAfter(attempts: number): number {
    const { firstMs, maxMs } = this.schedule;
    return Math.min(maxMs, firstMs * 2 ** Math.min(Math.max(0, attempts - 1), 40));
  }

  /** Sends what is due and expires what is too old. Returns the txids sent. */
  tick(): string[] {
    const now = this.now();
    const sent: string[] = [];
    for (const p of [...this.pendingByTxid.values()]) {
      if (now - p.addedAtMs >= this.schedule.expireMs) {
        this.retire(p, 'expired');
        continue;
      }
      if (now < p.nextAttemptAt) continue;
      let result: SendResult;
      try {
        result = this.deps.send(p.tx.raw);
      } catch (err) {
        this.counters.inc('send_errors');
        this.deps.log.error('sending a pending transaction failed; will retry', { txid: p.tx.txid, error: (err as Error).message });
        continue;
      }
      if (result.links.length === 0 && result.nodePeers === 0) {
        // Not an attempt: nothing could take it. Tried again on every poll until something can.
        if (!p.toldNowhere) {
          this.deps.log.info('no link or node connection can take the transaction yet; will send when one can', { txid: p.tx.txid });
          p.toldNowhere = true;
        }
        continue;
      }
      p.toldNowhere = false;
      p.attempts++;
      p.lastSentAt = now;
      p.lastLinks = result.links;
      p.nextAttemptAt = now + this.delayAfter(p.attempts);
      this.counters.inc('sends');
      sent.push(p.tx.txid);
      this.deps.log.info('pending transaction sent', {
        txid: p.tx.txid,
        attempt: p.attempts,
        links: result.links.join(',') || undefined,
        nodePeers: result.nodePeers,
        next: new Date(p.nextAttemptAt).toISOString(),
      });
    }
    this.counters.set('pending', this.pendingByTxid.size);
    return sent;
  }

  /** Hashes from the node's inv (txid or wtxid, internal order). Returns the txids now done. */
  markSeen(hashes: Uint8Array[]): string[] {
    const done: string[] = [];
    for (const h of hashes) {
      const p = this.byInvKey.get(toHex(h));
      if (!p) continue;
      this.retire(p, 'done');
      done.push(p.tx.txid);
    }
    return done;
  }

  private retire(p: Pending, why: 'done' | 'expired'): void {
    this.forget(p);
    const name = `${p.tx.txid}.json`;
    try {
      moveDurably(p.file, join(this.deps.dir, why), name);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        // Still on disk as pending: a restart picks it up again, which is the safe side.
        this.counters.inc('errors');
        this.deps.log.error(`cannot move the entry to ${why}/`, { file: p.file, error: (err as Error).message });
      }
    }
    this.counters.set('pending', this.pendingByTxid.size);
    if (why === 'done') {
      this.counters.inc('done');
      this.deps.log.info('transaction seen back from the network; done', { txid: p.tx.txid, attempts: p.attempts, addedAt: p.entry.addedAt });
    } else {
      this.counters.inc('expired');
      this.deps.log.warn('pending transaction expired without being seen by the network; moved to expired/', {
        txid: p.tx.txid,
        attempts: p.attempts,
        addedAt: p.entry.addedAt,
      });
    }
  }

  /** In-process submit (demo, tests): same file as the CLI writes, picked up at once. */
  submit(input: string | Uint8Array, source = 'api'): SubmitOutcome {
    const outcome = submitToOutbox(this.deps.dir, input, { source, now: this.deps.now });
    this.poll();
    return outcome;
  }

  has(txid: string): boolean {
    return this.pendingByTxid.has(txid);
  }

  pending(): PendingTxStatus[] {
    return [...this.pendingByTxid.values()].map((p) => ({
      txid: p.tx.txid,
      wtxid: p.tx.wtxid,
      vsize: p.tx.vsize,
      addedAt: p.entry.addedAt,
      attempts: p.attempts,
      lastSentAt: p.lastSentAt === undefined ? undefined : new Date(p.lastSentAt).toISOString(),
      lastLinks: p.lastLinks,
      nextAttemptAt: new Date(p.nextAttemptAt).toISOString(),
      expiresAt: new Date(p.addedAtMs + this.schedule.expireMs).toISOString(),
    }));
  }
}
