// A Link over any FrameTransport (LoRa modem, KISS TNC, BLE UART, simulated air): turns
// header batches, tips, transactions and header requests into codec frames, fragmented and
// FEC-coded to the link's MTU, and back. Runs inside the driver's child process; what it
// decodes is still re-validated by the main process.
import { headerHash, HEADER_SIZE } from '../chain/header.js';
import { AltnetError } from '../util/errors.js';
import { toHex } from '../util/bytes.js';
import { Fragmenter, Reassembler } from '../codec/fragment.js';
import {
  FrameType,
  HASH_PREFIX_BYTES,
  type Integrity,
  decodeGetHeadersBody,
  decodeHeadersBody,
  decodeTxAckBody,
  encodeGetHeadersBody,
  encodeHeadersBody,
  encodeTxAckBody,
  MAX_LOCATOR_ENTRIES,
} from '../codec/frames.js';
import {
  bitsRuleFor,
  decodeHeaderStream,
  decodeTip,
  encodeHeaderStream,
  encodeTip,
  resolveTip,
  tipParentMatches,
  type TipAnnouncement,
} from '../codec/headers.js';
import type { FrameTransport, HeaderBatch, Link, LinkCapabilities, LinkContext } from './link.js';
import { canTransmit } from './link.js';

// Options of the framed layer live in framed-options.ts, so the link registry (loaded by every
// driver process) can list them without loading the codec.
export { DEFAULT_INTEGRITY, DEFAULT_REPAIR_RATIO, FRAMED_OPTIONS, framedLinkOptions, type FramedLinkOptions } from './framed-options.js';
import { DEFAULT_INTEGRITY, DEFAULT_REPAIR_RATIO, type FramedLinkOptions } from './framed-options.js';

/** Heights of context kept for decoding (a few days of blocks). */
const CONTEXT_HEIGHTS = 1024;
/** Header batches waiting for a parent we do not have yet. */
const MAX_WAITING_BATCHES = 16;
/**
 * Share of a duty-cycled link's hourly airtime that beacon batches may use, counted in bytes at
 * the raw bit rate with LoRa's framing overhead (up to ~2x at SF12) allowed for: the rest is
 * kept for new tips, which must never wait behind the carousel.
 */
const BATCH_AIRTIME_SHARE = 0.5;
const AIRTIME_OVERHEAD = 2;
const HOUR_MS = 3_600_000;

type MessageKind = 'tip' | 'batch' | 'tx' | 'txack' | 'request';

interface QueuedMessage {
  kind: MessageKind;
  frames: Uint8Array[];
  /** Index of the next frame to hand to the radio. */
  next: number;
}

interface Known {
  raw: Uint8Array;
  hash: Uint8Array;
}

export class FramedLink implements Link {
  readonly capabilities: LinkCapabilities;
  private readonly fragmenter: Fragmenter;
  private readonly reassembler: Reassembler;
  private readonly integrity: Integrity;
  /** height -> headers known at that height (usually one; more across a fork). */
  private readonly context = new Map<number, Known[]>();
  private topHeight = -1;
  private waiting: Array<{ parentHeight: number; parentPrefix: Uint8Array; stream: Uint8Array }> = [];
  /**
   * Messages waiting for the radio, oldest first. A newer tip replaces a queued older one, and
   * a beacon batch is skipped while another waits: on a slow, duty-cycled radio, stale
   * announcements must not pile up for hours (the beacon carousel repeats batches anyway).
   */
  private queue: QueuedMessage[] = [];
  /** A beacon batch offered while another was being sent: it goes next. */
  private heldBatch: HeaderBatch | undefined;
  private pumping = false;
  /** Bytes of beacon batches sent within the last hour (duty-cycled links only). */
  private batchBytes: Array<{ at: number; bytes: number }> = [];

  constructor(
    readonly name: string,
    private readonly transport: FrameTransport,
    private readonly ctx: LinkContext,
    private readonly opts: FramedLinkOptions = {},
  ) {
    this.capabilities = transport.capabilities;
    this.integrity = opts.integrity ?? DEFAULT_INTEGRITY;
    this.fragmenter = new Fragmenter({
      mtu: transport.capabilities.mtu,
      integrity: this.integrity,
      repairRatio: opts.repairRatio ?? DEFAULT_REPAIR_RATIO,
    });
    this.reassembler = new Reassembler({ integrity: this.integrity, counters: ctx.counters });
  }

  async start(): Promise<void> {
    this.transport.onFrame((f) => this.onFrame(f));
    this.transport.onState((state, reason) => this.ctx.events.state(state, reason));
    await this.transport.open();
  }

  async stop(): Promise<void> {
    await this.transport.close();
  }

  setContext(fromHeight: number, headers: Uint8Array[]): void {
    headers.forEach((raw, i) => this.remember(fromHeight + i, raw));
    this.retryWaiting();
  }

  async sendHeaders(batch: HeaderBatch): Promise<void> {
    if (!canTransmit(this.capabilities) || batch.headers.length === 0) return;
    if (batch.headers.length > 1 && this.queue.some((q) => q.kind === 'batch')) {
      // The first batch offered while one is on its way goes next; later ones are skipped. Without
      // it a carousel whose batch takes as long as N ticks on air, N a multiple of the carousel's
      // length, sent the same batch forever once frames really took their airtime (issue 17).
      if (!this.heldBatch) this.heldBatch = batch;
      else this.ctx.counters.inc('header_batches_skipped_busy');
      return;
    }
    const rule = bitsRuleFor(this.ctx.network);
    if (batch.headers.length === 1) {
      // A lone new tip goes as a standalone announcement: one small frame on most links.
      const body = encodeTip({ header: batch.headers[0], height: batch.parentHeight + 1, parent: batch.parent });
      this.ctx.counters.inc('tips_tx');
      return this.enqueue('tip', this.fragmenter.fragment(FrameType.TIP, body));
    }
    const stream = encodeHeaderStream(batch.headers, { parent: batch.parent, parentHeight: batch.parentHeight, bitsRule: rule });
    const body = encodeHeadersBody({ parentHeight: batch.parentHeight, parentPrefix: headerHash(batch.parent), stream });
    const frames = this.fragmenter.fragment(FrameType.HEADERS, body);
    if (!this.batchFitsAirtimeShare(frames)) {
      this.ctx.counters.inc('header_batches_skipped_airtime');
      return;
    }
    this.ctx.counters.inc('header_batches_tx');
    return this.enqueue('batch', frames);
  }

  /** Whether a beacon batch stays within its share of a duty-cycled link's hourly airtime. */
  private batchFitsAirtimeShare(frames: Uint8Array[]): boolean {
    const { dutyCycle, bitrate } = this.capabilities;
    if (dutyCycle >= 1 || bitrate <= 0) return true;
    const now = this.opts.now?.() ?? Date.now();
    this.batchBytes = this.batchBytes.filter((b) => now - b.at < HOUR_MS);
    const used = this.batchBytes.reduce((n, b) => n + b.bytes, 0);
    const bytes = frames.reduce((n, f) => n + f.length, 0);
    const allowance = (BATCH_AIRTIME_SHARE * dutyCycle * (HOUR_MS / 1000) * bitrate) / 8 / AIRTIME_OVERHEAD;
    if (used + bytes > allowance) return false;
    this.batchBytes.push({ at: now, bytes });
    return true;
  }

  async sendTx(raw: Uint8Array): Promise<void> {
    if (!canTransmit(this.capabilities)) return;
    this.ctx.counters.inc('tx_tx');
    return this.enqueue('tx', this.fragmenter.fragment(FrameType.TX, raw));
  }

  /** TXACK (codecs/frames.md 3.4): one small frame naming up to 16 transactions our node accepted. */
  async sendTxAck(txids: Uint8Array[]): Promise<void> {
    if (!canTransmit(this.capabilities) || txids.length === 0) return;
    this.ctx.counters.inc('txacks_tx');
    return this.enqueue('txack', this.fragmenter.fragment(FrameType.TXACK, encodeTxAckBody(txids)));
  }

  async requestHeaders(locator: Uint8Array[]): Promise<void> {
    if (!canTransmit(this.capabilities)) return;
    const entries: Array<{ height: number; prefix: Uint8Array }> = [];
    for (const hash of locator) {
      const height = this.heightOf(hash);
      if (height !== undefined) entries.push({ height, prefix: hash.subarray(0, HASH_PREFIX_BYTES) });
      if (entries.length === MAX_LOCATOR_ENTRIES) break;
    }
    if (entries.length === 0) return;
    this.ctx.counters.inc('header_requests_tx');
    return this.enqueue(
      'request',
      this.fragmenter.fragment(FrameType.GETHEADERS, encodeGetHeadersBody({ locator: entries, maxHeaders: this.opts.maxAnswer ?? 64 })),
    );
  }

  /**
   * Queues a message. Tips, transactions and requests go before beacon batches (frame by
   * frame, so a new tip does not wait for a long batch), and a newer tip replaces a queued one.
   */
  private async enqueue(kind: MessageKind, frames: Uint8Array[]): Promise<void> {
    if (kind === 'tip') {
      const before = this.queue.length;
      this.queue = this.queue.filter((q) => q.kind !== 'tip' || q.next > 0);
      if (this.queue.length < before) this.ctx.counters.inc('tips_superseded');
    }
    this.queue.push({ kind, frames, next: 0 });
    void this.pump();
  }

  private nextMessage(): QueuedMessage | undefined {
    return this.queue.find((q) => q.kind !== 'batch') ?? this.queue[0];
  }

  // One frame at a time to the radio; a failure drops the rest of that message, counted, and
  // is never thrown upward.
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (let item = this.nextMessage(); item; item = this.nextMessage()) {
        const frame = item.frames[item.next++];
        if (item.next >= item.frames.length) {
          this.queue.splice(this.queue.indexOf(item), 1);
          const held = item.kind === 'batch' ? this.heldBatch : undefined;
          if (held) {
            this.heldBatch = undefined;
            void this.sendHeaders(held);
          }
        }
        try {
          await this.transport.send(frame);
          this.ctx.counters.inc('frames_tx');
          this.ctx.counters.inc('bytes_tx', frame.length);
        } catch (err) {
          this.ctx.counters.inc(`send_errors.${err instanceof AltnetError ? err.code : 'other'}`);
          this.ctx.log.warn('frame not sent', { reason: (err as Error).message });
          const at = this.queue.indexOf(item);
          if (at >= 0) this.queue.splice(at, 1);
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  private onFrame(bytes: Uint8Array): void {
    const { counters } = this.ctx;
    counters.inc('frames_rx');
    counters.inc('bytes_rx', bytes.length);
    counters.set('last_frame_rx_at_ms', this.opts.now?.() ?? Date.now());
    try {
      const result = this.reassembler.receive(bytes, 'air', this.opts.now?.() ?? Date.now());
      for (const m of result.messages) this.onMessage(m.type, m.payload);
    } catch (err) {
      // Noise, collisions and hostile frames all end here: counted, never fatal.
      counters.inc(`frames_bad.${err instanceof AltnetError ? err.code : 'other'}`);
    }
  }

  private onMessage(type: number, payload: Uint8Array): void {
    const { events, counters } = this.ctx;
    switch (type) {
      case FrameType.HEADERS: {
        const body = decodeHeadersBody(payload);
        if (!this.decodeBatch(body)) {
          counters.inc('header_batches_waiting');
          this.waiting.push(body);
          if (this.waiting.length > MAX_WAITING_BATCHES) {
            this.waiting.shift();
            counters.inc('header_batches_dropped');
          }
        }
        return;
      }
      case FrameType.TIP:
        this.onTip(decodeTip(payload));
        return;
      case FrameType.TX:
        counters.inc('tx_rx');
        events.tx(payload);
        return;
      case FrameType.TXACK: {
        const prefixes = decodeTxAckBody(payload);
        counters.inc('txacks_rx');
        events.txAck?.(prefixes);
        return;
      }
      case FrameType.GETHEADERS: {
        const req = decodeGetHeadersBody(payload);
        counters.inc('header_requests_rx');
        events.headersWanted?.({ locator: req.locator, max: req.maxHeaders });
        return;
      }
      default:
        counters.inc('frames_ignored');
    }
  }

  /** Decodes a batch whose parent we know; false when the parent is unknown (yet). */
  private decodeBatch(body: { parentHeight: number; parentPrefix: Uint8Array; stream: Uint8Array }): boolean {
    const parent = this.find(body.parentHeight, body.parentPrefix);
    if (!parent) return false;
    const headers = decodeHeaderStream(
      body.stream,
      { parent: parent.raw, parentHeight: body.parentHeight, bitsRule: bitsRuleFor(this.ctx.network) },
      { maxHeaders: 2000 },
    );
    headers.forEach((raw, i) => this.remember(body.parentHeight + 1 + i, raw));
    this.ctx.counters.inc('header_batches_rx');
    if (headers.length) this.ctx.events.headers(headers);
    return true;
  }

  private onTip(tip: TipAnnouncement): void {
    const candidates = this.context.get(tip.height - 1) ?? [];
    for (const c of candidates) {
      if (!tipParentMatches(tip, c.hash)) continue;
      const raw = resolveTip(tip, c.raw);
      this.remember(tip.height, raw);
      this.ctx.counters.inc('tips_rx');
      this.ctx.events.headers([raw]);
      this.ctx.events.tip?.({ height: tip.height, hash: headerHash(raw) });
      return;
    }
    // We cannot rebuild it without its parent; the height alone still tells the watchdog.
    this.ctx.counters.inc('tips_unresolved');
    this.ctx.events.tip?.({ height: tip.height });
  }

  private retryWaiting(): void {
    for (let progress = true; progress && this.waiting.length;) {
      progress = false;
      for (const body of [...this.waiting]) {
        let done = false;
        try {
          done = this.decodeBatch(body);
        } catch (err) {
          this.ctx.counters.inc(`frames_bad.${err instanceof AltnetError ? err.code : 'other'}`);
          done = true;
        }
        if (done) {
          this.waiting = this.waiting.filter((b) => b !== body);
          progress = true;
        }
      }
    }
  }

  private remember(height: number, raw: Uint8Array): void {
    if (raw.length !== HEADER_SIZE) return;
    const hash = headerHash(raw);
    const list = this.context.get(height) ?? [];
    if (list.some((k) => toHex(k.hash) === toHex(hash))) return;
    list.push({ raw, hash });
    if (list.length > 4) list.shift();
    this.context.set(height, list);
    if (height > this.topHeight) {
      this.topHeight = height;
      for (const h of this.context.keys()) if (h <= height - CONTEXT_HEIGHTS) this.context.delete(h);
    }
    if (this.waiting.length) queueMicrotask(() => this.retryWaiting());
  }

  private find(height: number, prefix: Uint8Array): Known | undefined {
    return this.context.get(height)?.find((k) => prefix.every((b, i) => k.hash[i] === b));
  }

  private heightOf(hash: Uint8Array): number | undefined {
    const hex = toHex(hash);
    for (const [h, list] of this.context) if (list.some((k) => toHex(k.hash) === hex)) return h;
    return undefined;
  }
}
