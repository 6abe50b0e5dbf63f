// A Link over any FrameTransport (LoRa modem, KISS TNC, BLE UART, simulated air): turns
// header batches, tips, transactions and header requests into codec frames, fragmented and
// FEC-coded to the link's MTU, and back. Runs inside the driver's child process; what it
// decodes is still re-validated by the main process.
import { headerHash, HEADER_SIZE } from '../chain/header.js';
import { AltnetError } from '../util/errors.js';
import { equalBytes, toHex } from '../util/bytes.js';
import { Fragmenter, fragmentOverhead, Reassembler } from '../codec/fragment.js';
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
  frameOverhead,
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
import { canTransmit, DEFAULT_BEACON_DEPTH } from './link.js';
import { systemClock, wallMs, type Clock, type TimerHandle } from '../util/clock.js';

// Options of the framed layer live in framed-options.ts, so the link registry (loaded by every
// driver process) can list them without loading the codec.
export { DEFAULT_INTEGRITY, DEFAULT_REPAIR_RATIO, FRAMED_OPTIONS, framedLinkOptions, type FramedLinkOptions } from './framed-options.js';
import { DEFAULT_INTEGRITY, DEFAULT_REPAIR_RATIO, type FramedLinkOptions } from './framed-options.js';

/** Heights of context kept for decoding (a few days of blocks). */
const CONTEXT_HEIGHTS = 1024;
/** Header batches waiting for a parent we do not have yet. */
const MAX_WAITING_BATCHES = 64;
/**
 * Tip announcements waiting for their parent, newest kept: a receiver catching up from a beacon
 * hears the tips of blocks mined meanwhile before it has their parents (a carousel cycle takes
 * hours at SF12 and 1%, several blocks an hour); kept, they join the chain once the batches
 * arrive, instead of waiting for the carousel to come round again (issue 17).
 */
const MAX_WAITING_TIPS = 144;
const HOUR_MS = 3_600_000;
/**
 * Each pass of a beacon batch sends k fresh symbols plus this share more (codecs/frames.md 5):
 * passes add up at the receiver, so the carousel's repetition is the erasure code and a pass
 * needs only the margin that lets a receiver with light loss decode it at once.
 */
export const CAROUSEL_PASS_REPAIR = 0;
/**
 * A later pass of a beacon batch sends this share of its k symbols, fresh ones: a receiver that
 * lost a share of the first pass's frames needs about that share again, not a whole pass, and the
 * carousel's airtime goes further (issue 17: at SF12 1% with a block every 10 min and 20% loss,
 * two whole passes of each new header took 12 of the ~14 headers an hour the batches can carry).
 */
export const CAROUSEL_LATER_PASS_SHARE = 0.5;
/** Beacon batch sizes: multiples of BATCH_STEP headers in BATCH_STEP..BATCH_MAX (see beaconBatchHeaders). */
const BATCH_STEP = 4;
const BATCH_MAX = 72;
/** A beacon batch takes at most this share of one duty-cycle window's airtime budget. */
const BATCH_BUDGET_SHARE = 1;
/** Coded size of a mainnet header in a stream (headers.md section 4: 38.95 bytes). */
const CODED_HEADER_BYTES = 39;
/** A batch's own bytes around its stream: parent height and prefix, count, unit length and CRC-32. */
const BATCH_HEADER_BYTES = 14;
/** Asked for a beacon batch and got none (no chain yet, not a beacon): ask again this much later. */
const BEACON_ASK_RETRY_MS = 60_000;
/**
 * Partial messages are kept this long without a new symbol: a beacon repeats a batch once per
 * carousel cycle, hours apart at SF12 and 1%, and the symbols of every pass add up. Memory stays
 * bounded by the reassembler's byte budgets, whatever the expiry.
 */
const REASSEMBLY_EXPIRY_MS = 72 * HOUR_MS;

type MessageKind = 'tip' | 'batch' | 'tx' | 'txack' | 'request';

interface QueuedMessage {
  kind: MessageKind;
  /** Part of the beacon schedule: once sent, the link asks for the next batch (beaconReady). */
  carousel?: boolean;
  frames: Uint8Array[];
  /** Index of the next frame to hand to the radio. */
  next: number;
  /** A tip message: the new headers it announces (one, or a few a later block joined: sendHeaders). */
  tip?: HeaderBatch;
  /** A later pass of a carousel batch (its symbols continue the earlier passes': repair for a lossy receiver). */
  repeat?: boolean;
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
  private waitingTips: TipAnnouncement[] = [];
  /**
   * Messages waiting for the radio, oldest first. A newer tip replaces a queued older one, and
   * a beacon batch is skipped while another waits: on a slow, duty-cycled radio, stale
   * announcements must not pile up for hours (the beacon carousel repeats batches anyway).
   */
  private queue: QueuedMessage[] = [];
  /** A beacon batch offered while another was being sent: it goes next. */
  private heldBatch: HeaderBatch | undefined;
  private pumping = false;
  private readonly clock: Clock;
  private running = false;
  /** Earliest start of the next beacon batch (beaconinterval after the last one's start). */
  private nextBatchAt = 0;
  private beaconTimer: TimerHandle | undefined;
  /** A beacon batch was asked for and nothing came yet: what comes (a batch, or a lone tip) answers it. */
  private asked = false;
  /**
   * A header request that came before the chain context it is coded against (codecs/frames.md
   * 3.2: locator entries are heights and hash prefixes, so their heights must be known): sent
   * when setContext brings them. Only the newest is kept (a newer locator supersedes it).
   */
  private pendingLocator: Uint8Array[] | undefined;

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
      fragmentVersion: opts.fragmentVersion,
      // Frames name no transmitter, and on a shared channel every station is 'air' to a receiver
      // (onFrame): stations that all counted from 0 gave their first messages the same id (two
      // gateways' first transactions, same id and shape). Each starts somewhere else instead.
      firstMsgId: Math.floor((opts.random ?? Math.random)() * 256),
    });
    // A resent transaction is delivered again (frames.md 4.4), so the gateway acknowledges it
    // again: the sender resends until a TXACK gets through, and the air may lose every one.
    this.reassembler = new Reassembler({
      integrity: this.integrity,
      counters: ctx.counters,
      expiryMs: REASSEMBLY_EXPIRY_MS,
      redeliverTypes: [FrameType.TX],
    });
    this.clock = opts.clock ?? transport.clock ?? systemClock;
  }

  async start(): Promise<void> {
    this.transport.onFrame((f) => this.onFrame(f));
    this.transport.onState((state, reason) => this.ctx.events.state(state, reason));
    await this.transport.open();
    this.running = true;
    this.beaconReady();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.beaconTimer?.cancel();
    await this.transport.close();
  }

  private now(): number {
    return this.opts.now?.() ?? this.clock.nowMs();
  }

  /** Airtime of a frame as this link's radio sends it, ms (from the bit rate where the transport cannot say). */
  private airtimeOf(bytes: number): number {
    if (this.transport.frameAirtimeMs) return this.transport.frameAirtimeMs(bytes);
    const { bitrate } = this.capabilities;
    return bitrate > 0 ? (bytes * 8 * 1000) / bitrate : 0;
  }

  private get airtimeRule(): { dutyCycle: number; windowMs: number } {
    return this.transport.airtimeRule ?? { dutyCycle: this.capabilities.dutyCycle, windowMs: HOUR_MS };
  }

  /**
   * Headers per beacon batch on this link (a multiple of 4, up to 72): of the sizes whose frames
   * fit one duty-cycle window's airtime budget (SF12 at 1%: 36 s, 15 frames of 2.4 s: 16 headers),
   * the one that carries the carousel's depth in the least airtime. A batch costs whole frames
   * and about 14 bytes of batch and message header; batches are aligned, so the newest holds
   * what lies above the last multiple of the size and the oldest, which starts at the floor
   * (router beaconNext), what is left: the cost is averaged over where the tip falls. Estimated
   * with the mean coded header.
   */
  beaconBatchHeaders(): number {
    const { mtu } = this.capabilities;
    const { dutyCycle, windowMs } = this.airtimeRule;
    const budget = BATCH_BUDGET_SHARE * dutyCycle * windowMs;
    // Symbol bytes per fragment: the frame's envelope and a beacon batch's fragment header (k <= 32, one-byte indexes: fragment.ts repeat).
    const symbol = Math.max(1, mtu - fragmentOverhead(this.integrity, this.opts.fragmentVersion));
    // A pass of m headers: the coded bytes in whole symbols, its frames sharing them evenly
    // (fragment.ts: the smallest symbol for k), so often shorter than the MTU.
    const passAirtime = (m: number) => {
      if (m <= 0) return 0;
      const bytes = m * CODED_HEADER_BYTES + BATCH_HEADER_BYTES;
      const frames = Math.ceil((bytes / symbol) * (1 + CAROUSEL_PASS_REPAIR));
      return frames * this.airtimeOf(Math.min(mtu, Math.ceil(bytes / frames) + (mtu - symbol)));
    };
    let best = BATCH_STEP;
    let bestCost = Infinity;
    for (let n = BATCH_STEP; n <= BATCH_MAX; n += BATCH_STEP) {
      const full = passAirtime(n);
      if (n > BATCH_STEP && full > budget) break;
      // One cycle of the carousel with the tip r above a multiple of n, r = 0..n-1 alike.
      let cost = 0;
      for (let r = 0; r < n; r++) {
        const rest = Math.max(0, DEFAULT_BEACON_DEPTH - r);
        cost += passAirtime(r) + Math.floor(rest / n) * full + passAirtime(rest % n);
      }
      cost /= n;
      if (cost < bestCost - 1e-9) {
        best = n;
        bestCost = cost;
      }
    }
    return best;
  }

  /**
   * The default beacon interval for a batch of `airtimeMs`: on a radio whose duty-cycle limiter
   * paces every frame (it spreads the budget at the duty cycle, so batches go one per airtime /
   * duty cycle on average and new tips still go first), the batch's own airtime, so nothing waits
   * while the budget allows; where nothing paces the frames, its airtime divided by the duty cycle.
   * Either way a modem's own queue (a KISS TNC) never holds more than about one batch.
   */
  private defaultBeaconIntervalMs(airtimeMs: number): number {
    return this.transport.airtimeRule ? airtimeMs : airtimeMs / this.airtimeRule.dutyCycle;
  }

  /**
   * Asks the gateway for the next beacon batch once no batch is queued or held and the beacon
   * interval since the last batch's start has passed; asks again later if none comes (a gateway
   * that is not a beacon, or has no chain yet, answers nothing).
   */
  private beaconReady(): void {
    const { events } = this.ctx;
    if (!this.running || !events.beaconWanted || !canTransmit(this.capabilities) || !this.capabilities.carries.includes('headers')) return;
    if (this.heldBatch || this.queue.some((q) => q.kind === 'batch')) return;
    this.beaconTimer?.cancel();
    const wait = Math.max(0, this.nextBatchAt - this.now());
    this.beaconTimer = this.clock.after(wait, () => {
      this.beaconTimer = this.clock.after(BEACON_ASK_RETRY_MS, () => this.beaconReady());
      this.asked = true;
      this.ctx.counters.inc('beacon_asks');
      events.beaconWanted!(this.beaconBatchHeaders());
    });
  }

  setContext(fromHeight: number, headers: Uint8Array[]): void {
    headers.forEach((raw, i) => this.remember(fromHeight + i, raw));
    this.retryWaiting();
    const locator = this.pendingLocator;
    this.pendingLocator = undefined;
    if (locator) void this.requestHeaders(locator, true);
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
      // The newest carousel batch may be the tip alone: then it answers the link's ask.
      const answer = this.asked;
      this.asked = false;
      if (answer) this.beaconTimer?.cancel();
      const joined = this.joinWaitingTip(batch, rule);
      if (joined) return this.enqueue('tip', joined.frames, answer, joined.tip);
      // A lone new tip goes as a standalone announcement: one small frame on most links.
      const body = encodeTip({ header: batch.headers[0], height: batch.parentHeight + 1, parent: batch.parent });
      this.ctx.counters.inc('tips_tx');
      return this.enqueue('tip', this.fragmenter.fragment(FrameType.TIP, body), answer, batch);
    }
    const stream = encodeHeaderStream(batch.headers, { parent: batch.parent, parentHeight: batch.parentHeight, bitsRule: rule });
    const body = encodeHeadersBody({ parentHeight: batch.parentHeight, parentPrefix: headerHash(batch.parent), stream });
    // The same batch again keeps its message id and continues its symbols: a receiver adds the
    // symbols of every pass it heard part of (codecs/frames.md 5).
    const { frames, pass } = this.fragmenter.repeat(FrameType.HEADERS, body, {
      repairRatio: CAROUSEL_PASS_REPAIR,
      laterPassShare: CAROUSEL_LATER_PASS_SHARE,
    });
    this.ctx.counters.inc('header_batches_tx');
    if (pass > 1) this.ctx.counters.inc('header_batch_repeats');
    const repeat = pass > 1;
    const airtime = frames.reduce((ms, f) => ms + this.airtimeOf(f.length), 0);
    this.nextBatchAt = this.now() + (this.opts.beaconIntervalMs ?? this.defaultBeaconIntervalMs(airtime));
    this.beaconTimer?.cancel();
    this.asked = false;
    return this.enqueue('batch', frames, true, undefined, repeat);
  }

  /**
   * A new tip whose parent is the tip still waiting for the radio (a duty-cycled link, blocks
   * coming faster than its budget): both go as one small header batch, when it fits one frame,
   * instead of the newer replacing the older. A receiver following the tips then misses none
   * (without the older it could not rebuild the newer, nor any after it, until the carousel came
   * round: hours at SF12; issue 17).
   */
  private joinWaitingTip(batch: HeaderBatch, rule: ReturnType<typeof bitsRuleFor>): { frames: Uint8Array[]; tip: HeaderBatch } | undefined {
    const parentHash = toHex(headerHash(batch.parent));
    const older = this.queue.find(
      (q) =>
        q.kind === 'tip' &&
        q.next === 0 &&
        q.tip !== undefined &&
        q.tip.parentHeight + q.tip.headers.length === batch.parentHeight &&
        toHex(headerHash(q.tip.headers[q.tip.headers.length - 1])) === parentHash,
    )?.tip;
    if (!older) return undefined;
    const tip = { parentHeight: older.parentHeight, parent: older.parent, headers: [...older.headers, batch.headers[0]] };
    const stream = encodeHeaderStream(tip.headers, { parent: tip.parent, parentHeight: tip.parentHeight, bitsRule: rule });
    const frames = this.fragmenter.fragment(
      FrameType.HEADERS,
      encodeHeadersBody({ parentHeight: tip.parentHeight, parentPrefix: headerHash(tip.parent), stream }),
    );
    if (frames.length > 1) return undefined;
    this.ctx.counters.inc('tips_joined');
    return { frames, tip };
  }

  async sendTx(raw: Uint8Array): Promise<void> {
    if (!canTransmit(this.capabilities)) return;
    this.ctx.counters.inc('tx_tx');
    // A resent transaction continues its symbols too, so resends add up at a lossy receiver.
    return this.enqueue('tx', this.fragmenter.repeat(FrameType.TX, raw).frames);
  }

  /** TXACK (codecs/frames.md 3.4): one small frame naming up to 16 transactions our node accepted. */
  async sendTxAck(txids: Uint8Array[]): Promise<void> {
    if (!canTransmit(this.capabilities) || txids.length === 0) return;
    this.ctx.counters.inc('txacks_tx');
    return this.enqueue('txack', this.fragmenter.fragment(FrameType.TXACK, encodeTxAckBody(txids)));
  }

  async requestHeaders(locator: Uint8Array[], afterContext = false): Promise<void> {
    if (!canTransmit(this.capabilities)) {
      this.ctx.counters.inc('header_requests_not_sent.rx_only');
      return;
    }
    const entries: Array<{ height: number; prefix: Uint8Array }> = [];
    for (const hash of locator) {
      const height = this.heightOf(hash);
      if (height !== undefined) entries.push({ height, prefix: hash.subarray(0, HASH_PREFIX_BYTES) });
      if (entries.length === MAX_LOCATOR_ENTRIES) break;
    }
    if (entries.length === 0) {
      if (!afterContext) {
        // The gateway's chain context has not come yet (or not since our tip moved): send it then.
        if (this.pendingLocator) this.ctx.counters.inc('header_requests_superseded');
        this.pendingLocator = locator;
        this.ctx.counters.inc('header_requests_waiting_context');
        this.ctx.log.info('header request held until the chain context arrives (its locator names no header this link knows yet)');
        return;
      }
      this.ctx.counters.inc('header_requests_not_sent.no_context');
      this.ctx.log.warn('header request not sent: none of its locator entries is in the chain context this link was given', {
        entries: locator.length,
      });
      return;
    }
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
  private async enqueue(kind: MessageKind, frames: Uint8Array[], carousel = false, tip?: HeaderBatch, repeat = false): Promise<void> {
    if (kind === 'tip') {
      const before = this.queue.length;
      const replaced = this.queue.filter((q) => q.kind === 'tip' && q.next === 0);
      this.queue = this.queue.filter((q) => !replaced.includes(q));
      // (One a joined message carries too is not superseded: sendHeaders joinWaitingTip.)
      const lost = replaced.filter((q) => !tip || !q.tip || tip.parentHeight > q.tip.parentHeight);
      if (lost.length) this.ctx.counters.inc('tips_superseded');
      // A replaced tip that answered the beacon's ask hands that role on.
      if (replaced.some((q) => q.carousel)) carousel = true;
    }
    this.queue.push({ kind, frames, next: 0, carousel, tip, repeat });
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
          if (item.kind === 'batch') {
            this.ctx.counters.inc('batch_frames_tx');
            this.ctx.counters.inc('batch_bytes_tx', frame.length);
            if (item.repeat) this.ctx.counters.inc('batch_repeat_frames_tx');
          }
        } catch (err) {
          this.ctx.counters.inc(`send_errors.${err instanceof AltnetError ? err.code : 'other'}`);
          this.ctx.log.warn('frame not sent', { reason: (err as Error).message });
          const at = this.queue.indexOf(item);
          if (at >= 0) this.queue.splice(at, 1);
        }
        if (item.carousel && !this.queue.includes(item)) this.beaconReady();
      }
    } finally {
      this.pumping = false;
    }
  }

  private onFrame(bytes: Uint8Array): void {
    const { counters } = this.ctx;
    counters.inc('frames_rx');
    counters.inc('bytes_rx', bytes.length);
    // Wall-clock time for status, also when the link runs on compressed time (the demo).
    counters.set('last_frame_rx_at_ms', wallMs(this.clock, this.now()));
    try {
      const result = this.reassembler.receive(bytes, 'air', this.now());
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
        if (!this.decodeBatch(body)) this.keepWaiting(body);
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

  /**
   * Keeps a batch whose parent has not come yet. The reassembler has marked it done, so later
   * passes of it are ignored for a day: dropped, it is lost for that long. So the same batch is
   * kept once, and when the list is full the batch farthest from our newest header goes (the one
   * that would attach last, or a stale fork), not the oldest, which is usually the next to attach
   * (issue 17: at SF12 1% with 20% loss, joined tips and repeats pushed out the batches right
   * above a receiver catching up, and it never got them again).
   */
  private keepWaiting(body: { parentHeight: number; parentPrefix: Uint8Array; stream: Uint8Array }): void {
    const { counters } = this.ctx;
    const same = (b: typeof body) =>
      b.parentHeight === body.parentHeight && equalBytes(b.parentPrefix, body.parentPrefix) && equalBytes(b.stream, body.stream);
    if (this.waiting.some(same)) {
      counters.inc('header_batches_waiting_again');
      return;
    }
    counters.inc('header_batches_waiting');
    this.waiting.push(body);
    if (this.waiting.length <= MAX_WAITING_BATCHES) return;
    const distance = (b: typeof body) => Math.abs(b.parentHeight - this.topHeight);
    const farthest = this.waiting.reduce((far, b) => (distance(b) > distance(far) ? b : far));
    this.waiting = this.waiting.filter((b) => b !== farthest);
    counters.inc('header_batches_dropped');
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
    if (this.resolveTip(tip)) return;
    // We cannot rebuild it without its parent yet; the height alone still tells the watchdog, and
    // it waits for the parent (a batch on its way).
    this.ctx.counters.inc('tips_unresolved');
    this.ctx.events.tip?.({ height: tip.height });
    this.waitingTips = this.waitingTips.filter((t) => t.height !== tip.height || toHex(t.merkleRoot) !== toHex(tip.merkleRoot));
    this.waitingTips.push(tip);
    this.waitingTips.sort((a, b) => a.height - b.height);
    if (this.waitingTips.length > MAX_WAITING_TIPS) this.waitingTips.shift();
  }

  /** Rebuilds a tip whose parent we know and reports it; false when the parent is unknown (yet). */
  private resolveTip(tip: TipAnnouncement): boolean {
    for (const c of this.context.get(tip.height - 1) ?? []) {
      if (!tipParentMatches(tip, c.hash)) continue;
      const raw = resolveTip(tip, c.raw);
      this.remember(tip.height, raw);
      this.ctx.counters.inc('tips_rx');
      this.ctx.events.headers([raw]);
      this.ctx.events.tip?.({ height: tip.height, hash: headerHash(raw) });
      return true;
    }
    return false;
  }

  private retryWaiting(): void {
    // Tips first, lowest first: each resolved one may be the parent of the next.
    for (const tip of [...this.waitingTips]) {
      if (!this.waitingTips.includes(tip) || !this.resolveTip(tip)) continue;
      this.waitingTips = this.waitingTips.filter((t) => t !== tip);
      this.ctx.counters.inc('tips_resolved_late');
    }
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
    if (this.waiting.length || this.waitingTips.length) queueMicrotask(() => this.retryWaiting());
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
