// Fragmentation to a link MTU, one-way erasure coding, duplex ARQ and bounded reassembly
// (codecs/frames.md sections "Messages and fragments", "One-way", "Duplex").
// Pure state machines: the caller feeds frames and `now` (ms), and sends what comes back.
import type { Counters } from '../util/counters.js';
import { InvalidDataError, MalformedInputError } from '../util/errors.js';
import { ByteReader, leb128Length, writeLeb128 } from './bits.js';
import { crc32 } from './crc.js';
import { toHex } from '../util/bytes.js';
import { decodeSymbols, FountainEncoder } from './fec.js';
import {
  decodeAckBody,
  decodeFragmentBody,
  decodeFrame,
  encodeAckBody,
  encodeFragmentBody,
  encodeFrame,
  DEFAULT_FRAGMENT_VERSION,
  FRAGMENT_FRAME_TYPE,
  fragmentHeaderLength,
  fragmentVersionOf,
  type FragmentVersion,
  frameOverhead,
  FrameType,
  type Integrity,
  MAX_INDEX,
  MAX_K,
} from './frames.js';

/** Smallest MTU the fragmenter supports. */
export const MIN_MTU = 20;

export interface LinkFraming {
  /** Largest frame the link carries, bytes (>= 20). */
  mtu: number;
  integrity: Integrity;
  /** Fragment header version sent (codecs/frames.md 4.2; default 3); receivers take both. */
  fragmentVersion?: FragmentVersion;
}

function checkMtu(mtu: number): void {
  if (!Number.isInteger(mtu) || mtu < MIN_MTU || mtu > 65535) throw new RangeError(`mtu must be ${MIN_MTU}..65535, got ${mtu}`);
}

/** Transfer unit: LEB128 length, payload, CRC-32 of the payload (big-endian), zero padding. */
function buildUnit(payload: Uint8Array, symbolSize: number): { unit: Uint8Array; k: number } {
  const head: number[] = [];
  writeLeb128(head, payload.length);
  const len = head.length + payload.length + 4;
  const k = Math.max(1, Math.ceil(len / symbolSize));
  const unit = new Uint8Array(k * symbolSize);
  unit.set(head);
  unit.set(payload, head.length);
  const c = crc32(payload);
  const o = head.length + payload.length;
  unit[o] = c >>> 24;
  unit[o + 1] = (c >>> 16) & 0xff;
  unit[o + 2] = (c >>> 8) & 0xff;
  unit[o + 3] = c & 0xff;
  return { unit, k };
}

function parseUnit(unit: Uint8Array): Uint8Array {
  const r = new ByteReader(unit);
  const len = r.leb128('message length', unit.length);
  if (len + 4 > r.remaining)
    throw new MalformedInputError(
      'fragment-unit',
      'reassembled message length exceeds its fragments; fragments of different messages were mixed or corrupted',
    );
  const payload = unit.slice(r.pos, r.pos + len);
  const o = r.pos + len;
  const want = ((unit[o] << 24) | (unit[o + 1] << 16) | (unit[o + 2] << 8) | unit[o + 3]) >>> 0;
  if (crc32(payload) !== want)
    throw new MalformedInputError(
      'fragment-unit-crc',
      'reassembled message fails its CRC-32; fragments of different messages were mixed or corrupted',
    );
  for (let i = o + 4; i < unit.length; i++) {
    if (unit[i] !== 0) throw new MalformedInputError('fragment-unit', 'reassembled message padding is not zero; the fragments are corrupt');
  }
  return payload;
}

/**
 * One message cut into k source symbols of equal size, able to produce any repair symbol.
 * `maxIndex` is the largest symbol index the sender may use (it sizes the index field).
 */
export class MessageEncoder {
  readonly k: number;
  readonly symbolSize: number;
  readonly version: FragmentVersion;
  private readonly fountain: FountainEncoder;

  constructor(
    readonly msgId: number,
    readonly innerType: number,
    payload: Uint8Array,
    private readonly framing: LinkFraming & { seq?: boolean; evenSymbols?: boolean },
    readonly maxIndex = MAX_INDEX,
  ) {
    checkMtu(framing.mtu);
    this.version = framing.fragmentVersion ?? DEFAULT_FRAGMENT_VERSION;
    const envelope = frameOverhead(FRAGMENT_FRAME_TYPE[this.version], { integrity: framing.integrity, seq: framing.seq });
    const maxIdx = Math.min(maxIndex, MAX_INDEX);
    const headerFor = (k: number) => envelope + fragmentHeaderLength(k, maxIdx, innerType, this.version);
    // The header's size depends on k (its field is a varint): try the short form first.
    let size = framing.mtu - headerFor(1);
    let built = buildUnit(payload, size);
    if (headerFor(built.k) > headerFor(1)) {
      size = framing.mtu - headerFor(MAX_K);
      built = buildUnit(payload, size);
    }
    if (built.k > MAX_K) {
      throw new InvalidDataError(
        'fragment-too-large',
        `a ${payload.length}-byte message needs ${built.k} fragments at mtu ${framing.mtu}; the limit is ${MAX_K}; split it into smaller messages`,
      );
    }
    if (framing.evenSymbols && built.k > 1) {
      // The same k with the smallest symbol that holds the unit: the padding (up to a whole
      // symbol less one byte with the largest size) shrinks below k bytes; frames.md 4.1 lets
      // the sender choose any L. Every repair symbol is L bytes too, so this is saved on each.
      const even = Math.ceil((leb128Length(payload.length) + payload.length + 4) / built.k);
      const again = buildUnit(payload, even);
      if (again.k === built.k) {
        size = even;
        built = again;
      }
    }
    this.k = built.k;
    this.symbolSize = size;
    const source: Uint8Array[] = [];
    for (let i = 0; i < this.k; i++) source.push(built.unit.subarray(i * size, (i + 1) * size));
    this.fountain = new FountainEncoder(source);
  }

  symbol(index: number): Uint8Array {
    if (!Number.isInteger(index) || index < 0 || index > this.maxIndex || index > MAX_INDEX) {
      throw new RangeError(`symbol index ${index} outside 0..${Math.min(this.maxIndex, MAX_INDEX)}`);
    }
    return this.fountain.symbol(index);
  }

  frame(index: number, opts: { poll?: boolean; seq?: number } = {}): Uint8Array {
    const body = encodeFragmentBody(
      { msgId: this.msgId, innerType: this.innerType, k: this.k, index, symbol: this.symbol(index) },
      this.version,
    );
    return encodeFrame(FRAGMENT_FRAME_TYPE[this.version], body, { integrity: this.framing.integrity, poll: opts.poll, seq: opts.seq });
  }
}

export interface FragmenterOptions extends LinkFraming {
  /** One-way: repair fragments sent per source fragment (default 0.5). */
  repairRatio?: number;
  /** First message id (default 0); ids then count up modulo 256. */
  firstMsgId?: number;
  /** Messages the carousel (`repeat`) remembers, so their repeats keep id and symbol count (default 64, at most 128). */
  carouselSize?: number;
}

/** Largest symbol index of a small repeated message: one-byte indexes. */
const SHORT_MAX_INDEX = 127;
/** Messages of at most this many source symbols use one-byte indexes (four passes of fresh symbols). */
const SHORT_INDEX_MAX_K = 32;

/**
 * Bytes a repeated small message's fragment adds around its symbol: the frame envelope and the
 * fragment header of a HEADERS message with k <= 32 and one-byte indexes (version 3: 3 bytes,
 * version 2: 4), what the beacon's batch sizing counts per frame.
 */
export function fragmentOverhead(integrity: Integrity, version: FragmentVersion = DEFAULT_FRAGMENT_VERSION): number {
  return (
    frameOverhead(FRAGMENT_FRAME_TYPE[version], { integrity }) +
    fragmentHeaderLength(SHORT_INDEX_MAX_K, SHORT_MAX_INDEX, FrameType.HEADERS, version)
  );
}

/** A message the carousel is repeating: its encoder and the next symbol index to send. */
interface CarouselEntry {
  enc: MessageEncoder;
  next: number;
  passes: number;
}

/**
 * One-way sender side: a message that fits one frame goes as is; a larger one becomes k source
 * fragments plus repair fragments, so a receiver recovers it from any k (or very few more).
 *
 * Repeated messages (`repeat`, codecs/frames.md 5): the same content keeps its message id and
 * each repeat continues the symbol indexes where the last one stopped, so a receiver that heard
 * part of one pass and part of another combines them (any k distinct symbols decode). The
 * carousel remembers the last `carouselSize` messages; their ids are not given to new messages.
 */
export class Fragmenter {
  private nextId: number;
  /** Content key -> entry, least recently repeated first. */
  private readonly carousel = new Map<string, CarouselEntry>();
  private readonly carouselSize: number;

  constructor(private readonly opts: FragmenterOptions) {
    checkMtu(opts.mtu);
    this.nextId = (opts.firstMsgId ?? 0) & 0xff;
    this.carouselSize = Math.max(1, Math.min(128, opts.carouselSize ?? 64));
  }

  /**
   * Frames for one pass of a repeated message: the same (type, payload) as an earlier pass keeps
   * its msgId and gets the next `k + ceil(k * repairRatio)` symbols (`repairRatio` here, default
   * the fragmenter's), or on a later pass `ceil(k * laterPassShare)` when that is given (a
   * receiver that heard most of an earlier pass needs only the symbols it lost). A message that
   * fits one frame goes as one plain frame every time.
   */
  repeat(
    type: number,
    payload: Uint8Array,
    opts: { repairRatio?: number; laterPassShare?: number } = {},
  ): { frames: Uint8Array[]; msgId?: number; pass: number } {
    if (payload.length + frameOverhead(type, { integrity: this.opts.integrity }) <= this.opts.mtu) {
      return { frames: [encodeFrame(type, payload, { integrity: this.opts.integrity })], pass: 0 };
    }
    const key = `${type}:${toHex(payload)}`;
    let e = this.carousel.get(key);
    if (e) this.carousel.delete(key);
    else {
      const id = this.allocateId();
      const framing = { ...this.opts, evenSymbols: true };
      // Indexes below 128 take one byte (frames.md 4.2), a byte more of symbol in every frame (1%
      // at 115 bytes): a small message cycles through 128 fresh symbols, a larger one uses them all.
      let enc = new MessageEncoder(id, type, payload, framing, SHORT_MAX_INDEX);
      if (enc.k > SHORT_INDEX_MAX_K) enc = new MessageEncoder(id, type, payload, framing);
      e = { enc, next: 0, passes: 0 };
      while (this.carousel.size >= this.carouselSize) this.carousel.delete(this.carousel.keys().next().value!);
    }
    this.carousel.set(key, e);
    const count =
      e.passes > 0 && opts.laterPassShare !== undefined
        ? Math.max(1, Math.ceil(e.enc.k * opts.laterPassShare))
        : e.enc.k + Math.ceil(e.enc.k * (opts.repairRatio ?? this.opts.repairRatio ?? 0.5));
    const frames: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      // After the last index, start again from 0: old symbols still fill a late receiver's gaps.
      if (e.next > e.enc.maxIndex) e.next = 0;
      frames.push(e.enc.frame(e.next++));
    }
    e.passes++;
    return { frames, msgId: e.enc.msgId, pass: e.passes };
  }

  /** The next message id not held by a message the carousel is repeating. */
  private allocateId(): number {
    const held = new Set<number>();
    for (const e of this.carousel.values()) held.add(e.enc.msgId);
    // The carousel holds at most 128 ids, so a free one is always found.
    while (held.has(this.nextId)) this.nextId = (this.nextId + 1) & 0xff;
    const id = this.nextId;
    this.nextId = (this.nextId + 1) & 0xff;
    return id;
  }

  /** Frames for one message; `repair` overrides the number of repair fragments. */
  fragment(type: number, payload: Uint8Array, opts: { repair?: number } = {}): Uint8Array[] {
    if (payload.length + frameOverhead(type, { integrity: this.opts.integrity }) <= this.opts.mtu && opts.repair === undefined) {
      return [encodeFrame(type, payload, { integrity: this.opts.integrity })];
    }
    const enc = this.encoder(type, payload);
    const repair = opts.repair ?? Math.ceil(enc.k * (this.opts.repairRatio ?? 0.5));
    const frames: Uint8Array[] = [];
    for (let i = 0; i < enc.k + repair && i <= MAX_INDEX; i++) frames.push(enc.frame(i));
    return frames;
  }

  /** An encoder for carousel senders that keep producing repair fragments. */
  encoder(type: number, payload: Uint8Array): MessageEncoder {
    return new MessageEncoder(this.allocateId(), type, payload, this.opts);
  }
}

// ---- receiver ------------------------------------------------------------------------------

export interface ReassembledMessage {
  type: number;
  payload: Uint8Array;
  sender: string;
}

export interface ReceiveResult {
  /** Whole messages: direct frames and completed fragment sets (ACK and GETHEADERS included). */
  messages: ReassembledMessage[];
  /** Frames to send back (ACKs), only when the reassembler was built with `acks: true`. */
  replies: Uint8Array[];
  /** Why a well-formed frame was not kept, when it was not. */
  dropped?: 'sender-limit' | 'total-limit' | 'message-too-large' | 'k-limit' | 'duplicate' | 'symbol-size';
}

export interface ReassemblerOptions {
  /** Integrity this link uses (frames claiming another mode are rejected); also used for ACKs. */
  integrity: Integrity;
  /** Duplex links: answer polls and completions with ACK frames. */
  acks?: boolean;
  maxBytesPerSender?: number;
  maxBytesTotal?: number;
  /** Largest k accepted (decoding cost grows about linearly with k: codecs/frames.md 4.4). */
  maxK?: number;
  /** A partial message with no new fragment for this long is dropped. */
  expiryMs?: number;
  /**
   * Inner types the receiver acts on at every arrival, not only the first (codecs/frames.md 4.4):
   * fragments of such a message it already delivered start a new round, decoded from the
   * repeat's own symbols and delivered again. A transaction is resent until a TXACK comes back,
   * so the receiver must hear a resend to acknowledge it again; otherwise a lost TXACK is never
   * replaced. Reassemblers that answer with ACKs (`acks`) keep ignoring late fragments.
   */
  redeliverTypes?: readonly number[];
  counters?: Counters;
}

const SYMBOL_OVERHEAD_BYTES = 48;
/** Symbols kept beyond k, in case the first k do not decode. */
const EXTRA_SYMBOLS = 8;
const DONE_PER_SENDER = 64;
const MAX_SENDERS = 1024;

interface Partial {
  sender: string;
  /** partialKey: msgId and shape. */
  key: string;
  msgId: number;
  innerType: number;
  k: number;
  size: number;
  symbols: Map<number, Uint8Array>;
  bytes: number;
  lastActivity: number;
  /** Symbol count at the last failed decode attempt. */
  triedAt: number;
  /** A new round of a message already delivered (redeliverTypes). */
  again: boolean;
}

interface SenderState {
  /** Keyed by msgId and shape (partialKey): see receive(). */
  partials: Map<string, Partial>;
  /** msgId and shape -> time of completed messages, to ignore their late fragments. */
  done: Map<string, { at: number }>;
  bytes: number;
}

/**
 * A message's identity at a receiver: its msgId and its shape (k, symbol size, inner type). On a
 * shared channel the link often cannot name the transmitter (one name for the whole air), and
 * every station counts its own ids from wherever it started, so two stations' messages may
 * share an id; their shapes usually differ, and then both are kept apart (codecs/frames.md 4.4).
 */
function partialKey(msgId: number, k: number, size: number, innerType: number): string {
  return `${msgId}:${k}:${size}:${innerType}`;
}

export class Reassembler {
  private readonly senders = new Map<string, SenderState>();
  private total = 0;
  private readonly maxPerSender: number;
  private readonly maxTotal: number;
  private readonly maxK: number;
  private readonly expiryMs: number;
  private readonly redeliver: ReadonlySet<number>;

  constructor(private readonly opts: ReassemblerOptions) {
    this.redeliver = new Set(opts.acks ? [] : (opts.redeliverTypes ?? []));
    this.maxPerSender = opts.maxBytesPerSender ?? 1 << 20;
    this.maxTotal = opts.maxBytesTotal ?? 8 << 20;
    this.maxK = Math.min(opts.maxK ?? 2048, MAX_K);
    this.expiryMs = opts.expiryMs ?? 15 * 60_000;
  }

  /** Bytes held by partial messages (symbols plus bookkeeping). */
  get bytesHeld(): number {
    return this.total;
  }

  get partialCount(): number {
    let n = 0;
    for (const s of this.senders.values()) n += s.partials.size;
    return n;
  }

  /**
   * Takes one frame from `sender` (the link's name for the far end). Throws MalformedInputError
   * (with a stable code, counted) for frames that do not parse.
   */
  receive(bytes: Uint8Array, sender: string, now: number): ReceiveResult {
    this.expire(now);
    const result: ReceiveResult = { messages: [], replies: [] };
    let frame;
    try {
      frame = decodeFrame(bytes, { integrity: this.opts.integrity });
      if (frame.type === FrameType.ACK) decodeAckBody(frame.body);
    } catch (err) {
      this.count('malformed');
      throw err;
    }
    if (frame.type === FrameType.FRAGMENT_V1) {
      this.count('fragment-version');
      throw new MalformedInputError(
        'fragment-version',
        'FRAGMENT frame of fountain code version 1 (frame type 7), which this receiver no longer decodes; upgrade the sender to fountain code version 2 (frame type 8)',
      );
    }
    const version = fragmentVersionOf(frame.type);
    if (version === undefined) {
      this.count('direct');
      result.messages.push({ type: frame.type, payload: frame.body, sender });
      return result;
    }
    let f;
    try {
      f = decodeFragmentBody(frame.body, version);
    } catch (err) {
      this.count('malformed');
      throw err;
    }
    this.count('fragments');
    const st = this.sender(sender);
    const key = partialKey(f.msgId, f.k, f.symbol.length, f.innerType);
    const repeat = st.done.has(key);
    const again = repeat && this.redeliver.has(f.innerType);
    if (repeat && !again) {
      this.count('late');
      if (frame.poll) this.ack(result, f.msgId, 0);
      result.dropped = 'duplicate';
      return result;
    }
    if (repeat) st.done.delete(key);
    if (f.k > this.maxK) {
      this.count('dropped.k-limit');
      result.dropped = 'k-limit';
      return result;
    }
    const symCost = f.symbol.length + SYMBOL_OVERHEAD_BYTES;
    if ((f.k + EXTRA_SYMBOLS) * symCost > Math.min(this.maxPerSender, this.maxTotal)) {
      this.count('dropped.too-large');
      result.dropped = 'message-too-large';
      return result;
    }
    // A partial with this id and another shape is another message: a stale one whose id was
    // reused, or another station's on a shared channel. It is not replaced (two stations sending
    // at once would each wipe out the other's symbols, forever); a stale one expires or is
    // evicted by the byte budgets.
    let p = st.partials.get(key);
    if (!p) {
      if ([...st.partials.values()].some((o) => o.msgId === f.msgId)) this.count('same-id');
      p = {
        sender,
        key,
        msgId: f.msgId,
        innerType: f.innerType,
        k: f.k,
        size: f.symbol.length,
        symbols: new Map(),
        bytes: 0,
        lastActivity: now,
        triedAt: 0,
        again: !!again,
      };
      st.partials.set(key, p);
    }
    p.lastActivity = now;
    if (p.symbols.has(f.index) || p.symbols.size >= p.k + EXTRA_SYMBOLS) {
      this.count('duplicate');
      if (frame.poll) this.ack(result, f.msgId, this.needed(p));
      result.dropped = 'duplicate';
      return result;
    }
    if (!this.makeRoom(st, p, symCost)) {
      result.dropped = st.bytes + symCost > this.maxPerSender ? 'sender-limit' : 'total-limit';
      this.count(`dropped.${result.dropped}`);
      if (p.symbols.size === 0) st.partials.delete(p.key);
      return result;
    }
    p.symbols.set(f.index, f.symbol);
    p.bytes += symCost;
    st.bytes += symCost;
    this.total += symCost;

    if (p.symbols.size >= p.k && p.symbols.size > p.triedAt) {
      const source = decodeSymbols(p.k, p.size, p.symbols);
      if (!source) {
        p.triedAt = p.symbols.size;
        this.count('decode-deficient');
      } else {
        this.drop(st, p);
        this.remember(st, p, now);
        const unit = new Uint8Array(p.k * p.size);
        for (let i = 0; i < p.k; i++) unit.set(source[i], i * p.size);
        let payload;
        try {
          payload = parseUnit(unit);
        } catch (err) {
          this.count('malformed');
          throw err;
        }
        this.count(p.again ? 'redelivered' : 'completed');
        result.messages.push({ type: p.innerType, payload, sender });
        if (this.opts.acks) this.ack(result, p.msgId, 0);
        return result;
      }
    }
    if (frame.poll) this.ack(result, f.msgId, this.needed(p));
    return result;
  }

  /** Drops partial messages idle for longer than expiryMs; returns how many. */
  expire(now: number): number {
    let n = 0;
    for (const [name, st] of this.senders) {
      for (const p of [...st.partials.values()]) {
        if (now - p.lastActivity >= this.expiryMs) {
          this.drop(st, p);
          n++;
        }
      }
      for (const [id, d] of st.done) if (now - d.at >= this.expiryMs) st.done.delete(id);
      if (st.partials.size === 0 && st.done.size === 0) this.senders.delete(name);
    }
    if (n) this.count('expired', n);
    return n;
  }

  /** When the next partial message expires (ms), or null with none held. */
  nextExpiry(): number | null {
    let t: number | null = null;
    for (const st of this.senders.values())
      for (const p of st.partials.values()) {
        const at = p.lastActivity + this.expiryMs;
        if (t === null || at < t) t = at;
      }
    return t;
  }

  private needed(p: Partial): number {
    return Math.max(p.k - p.symbols.size, p.symbols.size >= p.k ? 1 : 0);
  }

  private ack(result: ReceiveResult, msgId: number, needed: number): void {
    if (!this.opts.acks) return;
    result.replies.push(encodeFrame(FrameType.ACK, encodeAckBody({ msgId, needed }), { integrity: this.opts.integrity }));
  }

  private sender(name: string): SenderState {
    let st = this.senders.get(name);
    if (st) {
      // Keep the map in least-recently-active order.
      this.senders.delete(name);
      this.senders.set(name, st);
      return st;
    }
    if (this.senders.size >= MAX_SENDERS) {
      for (const [oldName, old] of this.senders) {
        for (const p of [...old.partials.values()]) this.drop(old, p);
        this.senders.delete(oldName);
        this.count('sender-evicted');
        break;
      }
    }
    st = { partials: new Map(), done: new Map(), bytes: 0 };
    this.senders.set(name, st);
    return st;
  }

  private remember(st: SenderState, p: Partial, now: number): void {
    st.done.set(p.key, { at: now });
    if (st.done.size > DONE_PER_SENDER) st.done.delete(st.done.keys().next().value!);
  }

  private drop(st: SenderState, p: Partial): void {
    st.partials.delete(p.key);
    st.bytes -= p.bytes;
    this.total -= p.bytes;
    p.bytes = 0;
    p.symbols.clear();
  }

  /** Evicts least recently active partials (never `keep`) until `cost` more bytes fit. */
  private makeRoom(st: SenderState, keep: Partial, cost: number): boolean {
    while (st.bytes + cost > this.maxPerSender) {
      const victim = oldest(st.partials.values(), keep);
      if (!victim) return false;
      this.count('evicted');
      this.drop(st, victim);
    }
    while (this.total + cost > this.maxTotal) {
      let victim: Partial | undefined;
      let victimState: SenderState | undefined;
      for (const s of this.senders.values()) {
        const v = oldest(s.partials.values(), keep);
        if (v && (!victim || v.lastActivity < victim.lastActivity)) {
          victim = v;
          victimState = s;
        }
      }
      if (!victim || !victimState) return false;
      this.count('evicted');
      this.drop(victimState, victim);
    }
    return true;
  }

  private count(name: string, by = 1): void {
    this.opts.counters?.inc(`reassembly.${name}`, by);
  }
}

function oldest(it: Iterable<Partial>, keep: Partial): Partial | undefined {
  let best: Partial | undefined;
  for (const p of it) if (p !== keep && (!best || p.lastActivity < best.lastActivity)) best = p;
  return best;
}

// ---- duplex sender -------------------------------------------------------------------------

export interface ArqOptions extends LinkFraming {
  /** Wait this long for an ACK after a poll before probing again (ms). */
  retransmitMs: number;
  /** Probes without any ACK before the message is given up. */
  maxRetries?: number;
  /** Messages in flight at once; later ones queue. */
  maxInFlight?: number;
  /** Extra repair fragments added to what an ACK asks for (default 0). */
  margin?: number;
  firstMsgId?: number;
  counters?: Counters;
}

export interface ArqOutput {
  frames: Uint8Array[];
  /** Message ids the receiver confirmed. */
  delivered: number[];
  /** Message ids given up after maxRetries probes without an answer. */
  failed: number[];
  /** When to call poll() again (ms), or null when idle. */
  wakeAt: number | null;
}

interface InFlight {
  enc: MessageEncoder;
  nextIndex: number;
  deadline: number;
  retries: number;
  /** Indexes to send on the next poll. */
  pending: number[];
}

/**
 * Duplex sender: sends the k source fragments, polls on the last one, and answers each ACK that
 * reports m missing with m fresh repair fragments (any m new symbols fill any m gaps). A poll
 * with no ACK before `retransmitMs` is repeated with one new repair fragment.
 */
export class ArqSender {
  private readonly queue: MessageEncoder[] = [];
  private readonly inFlight = new Map<number, InFlight>();
  private nextId: number;
  private delivered: number[] = [];
  private failed: number[] = [];

  constructor(private readonly opts: ArqOptions) {
    checkMtu(opts.mtu);
    this.nextId = (opts.firstMsgId ?? 0) & 0xff;
  }

  /** Queues a message; returns its id. Frames come out of the next poll(). */
  send(type: number, payload: Uint8Array): number {
    let id = this.nextId;
    for (let tries = 0; this.inFlight.has(id) || this.queue.some((q) => q.msgId === id); tries++) {
      if (tries > 255) throw new InvalidDataError('arq-ids-exhausted', 'all 256 message ids are in use; wait for deliveries');
      id = (id + 1) & 0xff;
    }
    // Built now so a message too large for the link fails at the caller, not inside poll().
    const enc = new MessageEncoder(id, type, payload, this.opts);
    this.nextId = (id + 1) & 0xff;
    this.queue.push(enc);
    return id;
  }

  get inFlightCount(): number {
    return this.inFlight.size + this.queue.length;
  }

  /** Takes a frame from the far end; only ACK frames matter here. Returns true when used. */
  receive(bytes: Uint8Array, now: number): boolean {
    let ack;
    try {
      const f = decodeFrame(bytes, { integrity: this.opts.integrity });
      if (f.type !== FrameType.ACK) return false;
      ack = decodeAckBody(f.body);
    } catch (err) {
      this.opts.counters?.inc('arq.malformed');
      throw err;
    }
    const m = this.inFlight.get(ack.msgId);
    if (!m) {
      this.opts.counters?.inc('arq.ack-unknown');
      return false;
    }
    if (ack.needed === 0) {
      this.inFlight.delete(ack.msgId);
      this.delivered.push(ack.msgId);
      this.opts.counters?.inc('arq.delivered');
      return true;
    }
    m.retries = 0;
    // Only answer if nothing is already waiting to go out; otherwise the pending burst covers it.
    if (m.pending.length === 0) {
      const n = Math.min(ack.needed + (this.opts.margin ?? 0), MAX_INDEX + 1 - m.nextIndex);
      for (let i = 0; i < n; i++) m.pending.push(m.nextIndex++);
      if (n === 0) this.fail(ack.msgId);
    }
    m.deadline = now;
    return true;
  }

  poll(now: number): ArqOutput {
    const frames: Uint8Array[] = [];
    while (this.queue.length && this.inFlight.size < (this.opts.maxInFlight ?? 4)) {
      const enc = this.queue.shift()!;
      const pending: number[] = [];
      for (let i = 0; i < enc.k; i++) pending.push(i);
      this.inFlight.set(enc.msgId, { enc, nextIndex: enc.k, deadline: now, retries: 0, pending });
    }
    for (const [id, m] of this.inFlight) {
      if (m.pending.length === 0 && now >= m.deadline) {
        if (++m.retries > (this.opts.maxRetries ?? 8) || m.nextIndex > MAX_INDEX) {
          this.fail(id);
          continue;
        }
        this.opts.counters?.inc('arq.probe');
        m.pending.push(m.nextIndex++);
      }
      if (m.pending.length) {
        for (let i = 0; i < m.pending.length; i++) {
          frames.push(m.enc.frame(m.pending[i], { poll: i === m.pending.length - 1 }));
        }
        this.opts.counters?.inc('arq.frames', m.pending.length);
        m.pending = [];
        m.deadline = now + this.opts.retransmitMs;
      }
    }
    let wakeAt: number | null = null;
    for (const m of this.inFlight.values()) if (wakeAt === null || m.deadline < wakeAt) wakeAt = m.deadline;
    const out = { frames, delivered: this.delivered, failed: this.failed, wakeAt };
    this.delivered = [];
    this.failed = [];
    return out;
  }

  private fail(id: number): void {
    this.inFlight.delete(id);
    this.failed.push(id);
    this.opts.counters?.inc('arq.failed');
  }
}
