// Transaction acknowledgements, receiving side (codecs/frames.md 3.4): remembers which link each
// transaction came over, learns whether our node accepted it, and sends a TXACK back on that
// link. Bitcoin Core never announces a transaction back to the peer that gave it, so besides
// watching the node's inv (another connection may have relayed it first) the tracker asks the
// node with getdata: Core answers `tx` once the transaction sits in its mempool and its next inv
// round to us has passed (FindTxForGetData, ~2 s for an outbound peer), `notfound` before or if
// it was refused. Acks found together go out together, up to MAX_TXACK_ENTRIES per frame.
// A TXACK is one unprotected frame that the air may lose, so each is sent ACK_REPEATS times,
// and again whenever the same transaction arrives once more (the sender resends until
// acknowledged, and the link delivers each resend again: codecs/frames.md 4.4), at most
// MAX_ACKS_PER_TX times in all. Every send waits a random share of its spacing, drawn from the
// injected random source: with one fixed schedule every gateway that accepts at the same moment
// (two gateways hearing one another's relays) repeats at the same moment, and on a shared
// channel a collision repeats with it (issue 17: in test/e2e/send-tx.test.ts both of gateway
// B's acks went on the air in the same millisecond as gateway A's). On a duty-cycled link the
// whole schedule fits one duty-cycle window (ackWindowMs), so the acks of one acceptance count
// against one window of the budget, not two.
import type { Logger } from '../util/log.js';
import type { Counters } from '../util/counters.js';
import { fromHex, toHex } from '../util/bytes.js';
import { MAX_TXACK_ENTRIES } from '../codec/frames.js';
import { checkTransaction } from './outbox-check.js';

/** Transactions from links watched at once; the oldest is forgotten past this. */
export const MAX_WATCHED_TXS = 256;
/** First getdata to the node this long after handing it the transaction, then every PROBE_EVERY_MS. */
export const FIRST_PROBE_MS = 3000;
export const PROBE_EVERY_MS = 5000;
/** Probes before giving up (the node refused it, or it is an orphan it will not serve). */
export const MAX_PROBES = 24;
/**
 * Times each acknowledgement goes out (a lost frame is not retransmitted). Three, not two: an ack
 * is one 12-byte frame, a resend the sender makes for want of one is a whole pass (15 frames of
 * a 191-byte transaction at MTU 51), and at 30% loss a pass went unacknowledged 9% of the time
 * with two (2.7% with three). In test/e2e/send-tx.test.ts, on its seeded air, the first of gateway B's
 * acks fell on a lost draw in 21 of 21 runs and both in 5, leaving a single ack per pass.
 */
export const ACK_REPEATS = 3;
/** Spacing of the repeats: ACK_REPEAT_MS plus a uniform random 0..ACK_REPEAT_JITTER_MS. */
export const ACK_REPEAT_MS = 4000;
export const ACK_REPEAT_JITTER_MS = 8000;
/** The first send waits a uniform random 0..ACK_FIRST_JITTER_MS after the node took the transaction. */
export const ACK_FIRST_JITTER_MS = 2000;
/**
 * A repeated acknowledgement waits ACK_AFTER_RX_MS plus a uniform random 0..ACK_AFTER_RX_MS after
 * the transaction came again (half-duplex radios: the sender's repair frames end first).
 */
export const ACK_AFTER_RX_MS = 2000;
/** Most TXACK sends for one accepted transaction, re-arrivals included (then counted, not sent). */
export const MAX_ACKS_PER_TX = 8;

interface Watched {
  link: string;
  /** Internal byte order. */
  txid: Uint8Array;
  keys: string[];
  nextProbeAt: number;
  probes: number;
}

interface Acked {
  link: string;
  txid: Uint8Array;
  sendsLeft: number;
  nextAt: number;
  /** Sends so far, up to MAX_ACKS_PER_TX. */
  sent: number;
}

export interface TxAckDeps {
  log: Logger;
  counters: Counters;
  /** Sends TXACK for these txids (internal order) on the named link; false when it cannot transmit. */
  sendAck(link: string, txids: Uint8Array[]): boolean;
  /** Asks every node connection for these txids (getdata); returns how many connections were asked. */
  probe(txids: Uint8Array[]): number;
  /**
   * The duty-cycle window of the named link, ms (undefined: not duty-cycled); the repeats of one
   * acknowledgement are spaced to fit in it.
   */
  ackWindowMs?(link: string): number | undefined;
  now?: () => number;
  /** Uniform in [0, 1): the jitter of the ack schedule (tests; default Math.random). */
  random?: () => number;
  /**
   * Runs `fn` after `ms` (the gateway: an unref'd timer), so each ack goes at its drawn time.
   * Without it due acks wait for tick(): on a 1 s tick the jitter is whole seconds, and two
   * gateways whose ticks run in step (within a frame's airtime) collided on every ack they sent
   * in the same second (issue 17, send-tx e2e: 6-40 ms apart in 3 of 35 logged runs).
   */
  schedule?(ms: number, fn: () => void): void;
}

const reversedHex = (displayHex: string) => displayHex.match(/../g)!.reverse().join('');

export class TxAckTracker {
  private readonly watched = new Map<string, Watched>();
  private readonly byKey = new Map<string, Watched>();
  /** Acknowledged recently (bounded like watched): repeated, and re-sent if the transaction comes again. */
  private readonly acked = new Map<string, Acked>();
  private readonly outgoing = new Map<string, Uint8Array[]>();
  private flushQueued = false;

  constructor(private readonly deps: TxAckDeps) {}

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }

  private random(): number {
    return (this.deps.random ?? Math.random)();
  }

  /**
   * The wait before the next repeat on `link`: ACK_REPEAT_MS plus a random share of
   * ACK_REPEAT_JITTER_MS, shrunk on a duty-cycled link so that ACK_REPEATS sends fit one window.
   */
  private repeatGapMs(link: string): number {
    const window = this.deps.ackWindowMs?.(link);
    const most = window === undefined ? Infinity : window / ACK_REPEATS;
    const hi = Math.min(ACK_REPEAT_MS + ACK_REPEAT_JITTER_MS, most);
    const lo = Math.min(ACK_REPEAT_MS, hi / 2);
    return Math.round(lo + (hi - lo) * this.random());
  }

  get size(): number {
    return this.watched.size;
  }

  /** A transaction arrived over `link` and was handed to the node. */
  watch(link: string, raw: Uint8Array): void {
    let txid: string;
    let wtxid: string;
    try {
      ({ txid, wtxid } = checkTransaction(raw));
    } catch {
      this.deps.counters.inc('txack.unparsable');
      return; // the node refuses it as well; nothing to acknowledge
    }
    const key = reversedHex(txid);
    const done = this.acked.get(key);
    if (done) {
      // The sender did not hear our acknowledgement and sent it again: acknowledge again, the
      // same number of times, starting once its transmission (repair frames too) has ended.
      // Sends still due are not added to, and MAX_ACKS_PER_TX bounds them all.
      done.link = link;
      done.sendsLeft = Math.min(Math.max(done.sendsLeft, ACK_REPEATS), MAX_ACKS_PER_TX - done.sent);
      done.nextAt = this.now() + Math.round(ACK_AFTER_RX_MS * (1 + this.random()));
      this.wakeAt(done.nextAt);
      this.deps.counters.inc(done.sendsLeft > 0 ? 'txack.repeated' : 'txack.capped');
      return;
    }
    if (this.watched.has(key)) return;
    if (this.watched.size >= MAX_WATCHED_TXS) {
      const oldest = this.watched.values().next().value as Watched;
      this.forget(oldest);
      this.deps.counters.inc('txack.dropped');
    }
    const w: Watched = { link, txid: fromHex(key), keys: [key, reversedHex(wtxid)], nextProbeAt: this.now() + FIRST_PROBE_MS, probes: 0 };
    this.watched.set(key, w);
    for (const k of w.keys) this.byKey.set(k, w);
  }

  /** Hashes (txid or wtxid, internal order) the node announced or sent: those it holds. */
  accepted(hashes: Uint8Array[]): void {
    // One draw for the hashes that came together, so that their acks still share frames.
    const nextAt = this.now() + Math.round(ACK_FIRST_JITTER_MS * this.random());
    for (const h of hashes) {
      const w = this.byKey.get(toHex(h));
      if (!w) continue;
      this.forget(w);
      this.acked.set(w.keys[0], { link: w.link, txid: w.txid, sendsLeft: ACK_REPEATS, nextAt, sent: 0 });
      if (this.acked.size > MAX_WATCHED_TXS) this.acked.delete(this.acked.keys().next().value as string);
      this.deps.counters.inc('txack.accepted');
    }
    if (nextAt <= this.now()) this.sendDue();
    else this.wakeAt(nextAt);
  }

  /** Sends what is due at `at` then (schedule), rather than at the next tick. */
  private wakeAt(at: number): void {
    this.deps.schedule?.(Math.max(0, at - this.now()), () => this.sendDue());
  }

  private queueAck(link: string, txid: Uint8Array): void {
    const list = this.outgoing.get(link) ?? [];
    list.push(txid);
    this.outgoing.set(link, list);
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(() => this.flush());
    }
  }

  /** Asks the node about what is due; call about once a second. */
  tick(): void {
    const now = this.now();
    const due: Uint8Array[] = [];
    for (const w of [...this.watched.values()]) {
      if (now < w.nextProbeAt) continue;
      if (w.probes >= MAX_PROBES) {
        this.forget(w);
        this.deps.counters.inc('txack.gave_up');
        this.deps.log.info('the node did not take a transaction from a link; no acknowledgement sent', {
          link: w.link,
          txid: reversedHex(toHex(w.txid)),
        });
        continue;
      }
      w.probes++;
      w.nextProbeAt = now + PROBE_EVERY_MS;
      due.push(w.txid);
    }
    if (due.length) this.deps.probe(due);
    this.sendDue();
  }

  /** Queues the acknowledgements that are due (sent together at the end of this turn). */
  private sendDue(): void {
    const now = this.now();
    const gaps = new Map<string, number>(); // one draw per link, so acks due together stay together
    for (const a of this.acked.values()) {
      if (a.sendsLeft <= 0 || now < a.nextAt) continue;
      a.sendsLeft--;
      a.sent++;
      let gap = gaps.get(a.link);
      if (gap === undefined) gaps.set(a.link, (gap = this.repeatGapMs(a.link)));
      a.nextAt = now + gap;
      if (a.sendsLeft > 0) this.wakeAt(a.nextAt);
      this.queueAck(a.link, a.txid);
    }
  }

  private flush(): void {
    this.flushQueued = false;
    for (const [link, txids] of this.outgoing) {
      this.outgoing.delete(link);
      for (let i = 0; i < txids.length; i += MAX_TXACK_ENTRIES) {
        const part = txids.slice(i, i + MAX_TXACK_ENTRIES);
        if (this.deps.sendAck(link, part)) {
          this.deps.counters.inc('txack.sent');
          this.deps.log.info('node accepted transactions from a link; acknowledged on it', {
            link,
            txids: part.map((t) => reversedHex(toHex(t))).join(','),
          });
        } else this.deps.counters.inc('txack.not_sent');
      }
    }
  }

  private forget(w: Watched): void {
    this.watched.delete(w.keys[0]);
    for (const k of w.keys) this.byKey.delete(k);
  }
}
