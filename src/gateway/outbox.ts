// Emergency transaction send: the schedule that keeps re-sending stored transactions until the
// node reports seeing them (Outbox); a TXACK from the far end of a link (codecs/frames.md 3.4)
// marks one relayed, which stops its radio resends while the watch for it goes on. Its other two jobs live beside it: outbox-check.ts checks a
// transaction, outbox-store.ts keeps the durable entries; both are re-exported here.
//
// On disk (datadir/outbox/<network>/):
//   <txid>.json     one pending transaction; written once (temp file, fsync, rename, dir fsync)
//                   by `altnet send-tx` or Outbox.submit, never rewritten; deleting it by hand
//                   cancels the send
//   done/           entries the node announced back (kept as a record of what was sent)
//   expired/        entries that were not seen within the expiry (14 days)
//   bad/            files that did not parse or validate, moved aside (never deleted)
//   relayed/        <txid>.json marks of pending entries a far gateway acknowledged (TXACK):
//                   no longer sent on radio links, still sent to the node and watched for
//   .tmp-*          a write in progress (or torn by a crash); never read as an entry
// The per-network folder keeps a testnet transaction off a mainnet daemon sharing a datadir.
//
// The resend schedule lives in memory only: entry files stay write-once, so a crash at any
// moment leaves either no entry or a whole one, and a restarted daemon simply sends every
// pending transaction again at once, which is what one wants after a crash.
import { readdirSync, readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../util/log.js';
import type { Counters } from '../util/counters.js';
import { AltnetError } from '../util/errors.js';
import { fromHex, toHex } from '../util/bytes.js';
import { DURABLE_TMP_PREFIX, ensureDir, moveDurably } from '../util/durable.js';
import type { CheckedTx } from './outbox-check.js';
import {
  clearRelayedMark,
  parseEntry,
  readRelayedMark,
  submitToOutbox,
  TXID_FILE_RE,
  writeRelayedMark,
  type OutboxEntry,
  type SubmitOutcome,
} from './outbox-store.js';

export * from './outbox-check.js';
export * from './outbox-store.js';

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
  /** When a far gateway acknowledged it (TXACK), and on which link: radio resends stopped. */
  relayedAt?: string;
  relayedVia?: string;
}

export interface OutboxSchedule {
  /**
   * Wait after the first send; doubles after every send. Each wait grows by a random share of up
   * to OUTBOX_JITTER of itself: two senders that started together (a restart resends everything
   * at once) would otherwise resend in step on a shared radio channel and keep colliding.
   */
  firstMs: number;
  maxMs: number;
  /** Counted from addedAt; then the entry moves to expired/. */
  expireMs: number;
}

/** Most extra share of each resend wait, drawn at random (OutboxDeps.random). */
export const OUTBOX_JITTER = 0.25;

export const DEFAULT_SCHEDULE: OutboxSchedule = { firstMs: 30_000, maxMs: 30 * 60_000, expireMs: 14 * 24 * 3600_000 };

export interface OutboxDeps {
  /** outboxDir(datadir, network). */
  dir: string;
  log: Logger;
  /** Scoped by the outbox as `outbox.`. */
  counters: Counters;
  /**
   * Hands the transaction to every link and node connection that takes it; with skipRadio, to
   * no radio link (it was acknowledged over the air already).
   */
  send(raw: Uint8Array, opts?: { skipRadio?: boolean }): SendResult;
  /** Milliseconds since the epoch. */
  now?: () => number;
  /** Uniform in [0, 1): the jitter of the resend waits (tests; default Math.random). */
  random?: () => number;
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
  relayedAt?: number;
  relayedVia?: string;
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
        this.deps.log.warn('cannot watch the outbox; relying on the periodic rescan', {
          dir: this.deps.dir,
          error: (err as Error).message,
        });
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
          if (!this.warned.has('full'))
            this.deps.log.warn('too many pending transactions; the rest wait on disk until some are done', {
              pending: this.pendingByTxid.size,
            });
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
    const mark = readRelayedMark(this.deps.dir, tx.txid);
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
      ...(mark ? { relayedAt: Date.parse(mark.relayedAt), relayedVia: mark.link } : {}),
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
    if (p.relayedAt === undefined) return;
    try {
      clearRelayedMark(this.deps.dir, p.tx.txid);
    } catch (err) {
      this.counters.inc('errors');
      this.deps.log.warn('cannot remove the relayed mark of a finished entry', { txid: p.tx.txid, error: (err as Error).message });
    }
  }

  /** Delay after the n-th send (n >= 1): firstMs, 2x, 4x ... capped (before the random share). */
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
        result = this.deps.send(p.tx.raw, p.relayedAt === undefined ? undefined : { skipRadio: true });
      } catch (err) {
        this.counters.inc('send_errors');
        this.deps.log.error('sending a pending transaction failed; will retry', { txid: p.tx.txid, error: (err as Error).message });
        continue;
      }
      if (result.links.length === 0 && result.nodePeers === 0) {
        // Not an attempt: nothing could take it. Tried again on every poll until something can.
        if (!p.toldNowhere && p.relayedAt === undefined) {
          this.deps.log.info('no link or node connection can take the transaction yet; will send when one can', { txid: p.tx.txid });
          p.toldNowhere = true;
        }
        continue;
      }
      p.toldNowhere = false;
      p.attempts++;
      p.lastSentAt = now;
      p.lastLinks = result.links;
      const wait = this.delayAfter(p.attempts);
      p.nextAttemptAt = now + wait + Math.round(wait * OUTBOX_JITTER * (this.deps.random ?? Math.random)());
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

  /**
   * TXACK prefixes (8 bytes of a txid, internal order) from `link`: matching pending entries are
   * marked relayed, durably, and no longer sent on radio; they stay pending until markSeen.
   * Returns the txids newly marked.
   */
  markRelayed(prefixes: Uint8Array[], link: string): string[] {
    const marked: string[] = [];
    for (const prefix of prefixes) {
      const hex = toHex(prefix);
      if (hex.length !== 16) continue;
      for (const p of this.pendingByTxid.values()) {
        if (p.relayedAt !== undefined || !p.keys[0].startsWith(hex)) continue;
        const at = this.now();
        try {
          writeRelayedMark(this.deps.dir, { txid: p.tx.txid, relayedAt: new Date(at).toISOString(), link });
        } catch (err) {
          // Not marked: it keeps being resent, the safe side.
          this.counters.inc('errors');
          this.deps.log.error('cannot record a transaction as relayed; it stays on the radio schedule', {
            txid: p.tx.txid,
            error: (err as Error).message,
          });
          continue;
        }
        p.relayedAt = at;
        p.relayedVia = link;
        marked.push(p.tx.txid);
        this.counters.inc('relayed');
        this.deps.log.info('far gateway acknowledged the transaction; relayed, no more radio resends, still watching for it', {
          txid: p.tx.txid,
          link,
          attempts: p.attempts,
        });
      }
    }
    if (marked.length === 0) this.counters.inc('acks_unmatched');
    return marked;
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
      this.deps.log.info('transaction seen back from the network; done', {
        txid: p.tx.txid,
        attempts: p.attempts,
        addedAt: p.entry.addedAt,
      });
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
      ...(p.relayedAt === undefined ? {} : { relayedAt: new Date(p.relayedAt).toISOString(), relayedVia: p.relayedVia }),
    }));
  }
}
