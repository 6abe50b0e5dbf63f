// Messages between the main process and a link driver's child process.
// Framing: 4-byte little-endian length, then one CBOR data item (RFC 8949) encoded by cbor-x.
// Byte fields travel as CBOR byte strings (no hex), a header list as an array of them, a
// chain-work bigint as 32 big-endian bytes.
// The parent treats every child message as untrusted: the length is bounded before anything is
// buffered, the CBOR item is scanned for well-formedness within tight limits (no tags, no
// indefinite lengths, shallow nesting) before cbor-x decodes it, and the decoded value is then
// checked field by field; anything else is a MalformedInputError with a stable code.
// Cost is linear in the input: each body byte is copied once into its own message buffer, and
// byte fields are views into that buffer (a 4 MB block is never copied again on the way in).
// The light entry points (cbor-x/encode, cbor-x/decode): the package's main Node entry also
// loads its stream classes and the native string extractor (cbor-extract), measured at 2 MB of
// PSS per process; IPC messages are bytes and short strings, where the extractor gains nothing.
import { Encoder } from 'cbor-x/encode';
import { Decoder } from 'cbor-x/decode';
import { MalformedInputError } from '../util/errors.js';
import { bigIntToBytesBE, bytesToBigIntBE } from '../util/bytes.js';
import type { Cargo, LinkCapabilities, LinkDirection, LinkState } from '../links/link.js';
import { MAX_HEADERS_PER_MESSAGE } from '../chain/header.js';
import { MAX_TXACK_ENTRIES, TXID_PREFIX_BYTES } from '../codec/txack.js';

/** Bitcoin Core's MAX_BLOCK_SERIALIZED_SIZE (consensus/consensus.h). */
export const MAX_BLOCK_BYTES = 4_000_000;
/** Core's MAX_STANDARD_TX_WEIGHT / 1: a standard transaction is at most 400,000 weight units. */
export const MAX_TX_BYTES = 400_000;
/** A driver hands over at most one P2P message's worth of headers at a time. */
export const MAX_HEADERS_PER_IPC = MAX_HEADERS_PER_MESSAGE;
/** One block plus room for the envelope (field names, tags): CBOR adds a few dozen bytes. */
export const DEFAULT_MAX_IPC_MESSAGE = MAX_BLOCK_BYTES + 64 * 1024;

export type ChildMessage =
  | { t: 'hello'; caps: LinkCapabilities }
  | { t: 'headers'; headers: Uint8Array[] }
  | { t: 'tx'; raw: Uint8Array }
  | { t: 'block'; hash: Uint8Array; raw: Uint8Array }
  | { t: 'block-missing'; hash: Uint8Array; reason: string }
  | { t: 'tip'; height: number; hash?: Uint8Array; chainWork?: bigint }
  | { t: 'state'; state: LinkState; reason?: string }
  | { t: 'headers-wanted'; locator: Array<{ height: number; prefix: Uint8Array }>; max: number }
  | { t: 'tx-ack'; prefixes: Uint8Array[] }
  | { t: 'beacon-wanted'; max: number }
  | { t: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; msg: string }
  | { t: 'counters'; values: Record<string, number>; gauges?: string[] };

export type ParentMessage =
  | { t: 'start'; name: string; type: string; options: Record<string, string>; network: string }
  | { t: 'request-headers'; locator: Uint8Array[] }
  | { t: 'send-headers'; parentHeight: number; parent: Uint8Array; headers: Uint8Array[] }
  | { t: 'set-context'; fromHeight: number; headers: Uint8Array[] }
  | { t: 'send-tx'; raw: Uint8Array }
  | { t: 'send-tx-ack'; txids: Uint8Array[] }
  | { t: 'fetch-block'; hash: Uint8Array }
  | { t: 'stop' };

// ---- encoding ----

// Plain CBOR: maps keyed by strings, byte strings untagged (cbor-x would otherwise tag a
// Uint8Array with tag 64), no record extension.
const encoder = new Encoder({ useRecords: false, tagUint8Array: false, mapsAsObjects: true });
const decoder = new Decoder({ useRecords: false, mapsAsObjects: true });
const EMPTY = new Uint8Array(0);

/** CBOR head (RFC 8949 section 3) of major type `major` with argument n, shortest form. */
function cborHead(major: number, n: number): Uint8Array {
  const m = major << 5;
  if (n < 24) return Uint8Array.of(m | n);
  if (n < 0x100) return Uint8Array.of(m | 24, n);
  if (n < 0x10000) return Uint8Array.of(m | 25, n >>> 8, n & 0xff);
  return Uint8Array.of(m | 26, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

/**
 * Frames `fields` + `tail`, a byte string or an array of byte strings written as the map's last
 * value. Bulk bytes are copied once, straight into the frame: cbor-x would copy them into its
 * shared buffer first and grow that buffer to four times the message (16 MB kept for the life
 * of a driver after one 4 MB block).
 */
function frame(fields: Record<string, unknown>, tail?: { key: string; value: Uint8Array | Uint8Array[] }): Uint8Array {
  const head = encoder.encode(tail ? { ...fields, [tail.key]: EMPTY } : fields);
  if (!tail) {
    const out = new Uint8Array(4 + head.length);
    new DataView(out.buffer).setUint32(0, head.length, true);
    out.set(head, 4);
    return out;
  }
  // The map's last value is the empty byte string 0x40; the tail's encoding replaces it.
  if (head[head.length - 1] !== 0x40) throw new Error('IPC: unexpected CBOR layout from the encoder');
  const parts: Uint8Array[] = [head.subarray(0, head.length - 1)];
  const v = tail.value;
  if (v instanceof Uint8Array) parts.push(cborHead(2, v.length), v);
  else {
    parts.push(cborHead(4, v.length));
    for (const b of v) parts.push(cborHead(2, b.length), b);
  }
  let bodyLen = 0;
  for (const p of parts) bodyLen += p.length;
  const out = new Uint8Array(4 + bodyLen);
  new DataView(out.buffer).setUint32(0, bodyLen, true);
  let o = 4;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function frameMessage(msg: ChildMessage | ParentMessage): Uint8Array {
  switch (msg.t) {
    case 'headers':
      return frame({ t: msg.t }, { key: 'headers', value: msg.headers });
    case 'tx':
    case 'send-tx':
      return frame({ t: msg.t }, { key: 'raw', value: msg.raw });
    case 'block':
      return frame({ t: msg.t, hash: msg.hash }, { key: 'raw', value: msg.raw });
    case 'tip': {
      const fields: Record<string, unknown> = { t: msg.t, height: msg.height };
      if (msg.hash !== undefined) fields.hash = msg.hash;
      if (msg.chainWork !== undefined) fields.chainWork = bigIntToBytesBE(msg.chainWork, 32);
      return frame(fields);
    }
    case 'request-headers':
      return frame({ t: msg.t }, { key: 'locator', value: msg.locator });
    case 'send-headers':
      return frame({ t: msg.t, parentHeight: msg.parentHeight, parent: msg.parent }, { key: 'headers', value: msg.headers });
    case 'set-context':
      return frame({ t: msg.t, fromHeight: msg.fromHeight }, { key: 'headers', value: msg.headers });
    case 'state':
      return frame(msg.reason === undefined ? { t: msg.t, state: msg.state } : { t: msg.t, state: msg.state, reason: msg.reason });
    default:
      return frame(msg as unknown as Record<string, unknown>);
  }
}

// ---- decoding ----

/** Limits of the well-formedness scan; every legitimate message is far inside them. */
const MAX_DEPTH = 4;
const MAX_CONTAINER_ITEMS = MAX_HEADERS_PER_IPC;

function badCbor(what: string): never {
  throw new MalformedInputError('ipc-bad-cbor', `driver message is not acceptable CBOR: ${what}`);
}

/**
 * Checks that `b` is exactly one well-formed CBOR item (RFC 8949 section 3) of the kinds the
 * IPC uses: integers, byte and text strings, arrays and maps of definite length, false, true,
 * null, undefined and floats. Tags are refused, so none of cbor-x's extensions (shared
 * references, packed values, records, dates, sets...) can be reached by a driver. Iterative,
 * linear in the number of items, and string contents are skipped, not read.
 */
export function scanCbor(b: Uint8Array): void {
  const stack: number[] = [];
  let need = 1;
  let o = 0;
  for (;;) {
    while (need === 0) {
      if (stack.length === 0) {
        if (o !== b.length) badCbor(`${b.length - o} bytes after the item`);
        return;
      }
      need = stack.pop()!;
    }
    if (o >= b.length) badCbor('truncated');
    const ib = b[o++];
    const major = ib >> 5;
    const ai = ib & 31;
    let arg: number;
    if (ai < 24) arg = ai;
    else if (ai === 24 || ai === 25 || ai === 26 || ai === 27) {
      const n = 1 << (ai - 24);
      if (b.length - o < n) badCbor('truncated');
      arg = 0;
      for (let i = 0; i < n; i++) arg = arg * 256 + b[o + i];
      o += n;
    } else badCbor(ai === 31 ? 'indefinite length' : 'reserved additional information');
    need--;
    switch (major) {
      case 0:
      case 1:
        break;
      case 2:
      case 3:
        if (arg > b.length - o) badCbor('string longer than the message');
        o += arg;
        break;
      case 4:
      case 5:
        if (arg > MAX_CONTAINER_ITEMS) badCbor(`container of ${arg} items`);
        if (arg > 0) {
          if (stack.length >= MAX_DEPTH) badCbor('nested too deeply');
          stack.push(need);
          need = major === 5 ? arg * 2 : arg;
        }
        break;
      case 6:
        badCbor('tags are not used');
        break;
      default: // 7: simple values and floats
        if (!((ai >= 20 && ai <= 23) || (ai >= 25 && ai <= 27))) badCbor('simple value');
    }
  }
}

/**
 * Splits a byte stream into decoded CBOR values; rejects a length over the bound before
 * buffering its body. Linear: a body is allocated once at its announced size and filled from the
 * chunks as they come (no re-joining of what is already buffered).
 */
export class IpcDecoder {
  private readonly lenBuf = new Uint8Array(4);
  private lenFill = 0;
  private body: Uint8Array | undefined;
  private bodyFill = 0;
  constructor(private readonly maxMessage = DEFAULT_MAX_IPC_MESSAGE) {}

  /** Bytes held for an unfinished message (for tests and status). */
  get buffered(): number {
    return this.lenFill + this.bodyFill;
  }

  push(chunk: Uint8Array): unknown[] {
    const out: unknown[] = [];
    let o = 0;
    while (o < chunk.length) {
      if (!this.body) {
        const n = Math.min(4 - this.lenFill, chunk.length - o);
        this.lenBuf.set(chunk.subarray(o, o + n), this.lenFill);
        this.lenFill += n;
        o += n;
        if (this.lenFill < 4) break;
        const len = new DataView(this.lenBuf.buffer).getUint32(0, true);
        if (len > this.maxMessage) {
          throw new MalformedInputError('ipc-oversize', `driver message of ${len} bytes exceeds the ${this.maxMessage}-byte limit`);
        }
        this.body = new Uint8Array(len);
        this.bodyFill = 0;
      }
      const n = Math.min(this.body.length - this.bodyFill, chunk.length - o);
      this.body.set(chunk.subarray(o, o + n), this.bodyFill);
      this.bodyFill += n;
      o += n;
      if (this.bodyFill < this.body.length) break;
      const body = this.body;
      this.body = undefined;
      this.lenFill = 0;
      this.bodyFill = 0;
      out.push(decodeBody(body));
    }
    return out;
  }
}

function decodeBody(body: Uint8Array): unknown {
  if (body.length === 0) badCbor('empty message');
  scanCbor(body);
  try {
    return decoder.decode(body);
  } catch (err) {
    badCbor((err as Error).message.slice(0, 100));
  }
}

// ---- validation, field by field ----

function bad(what: string): never {
  throw new MalformedInputError('ipc-bad-message', `driver message: ${what}`);
}

function obj(v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) bad('not an object');
  return v as Record<string, unknown>;
}

function bytes(v: unknown, field: string, max: number, exact?: number): Uint8Array {
  if (!(v instanceof Uint8Array) || v.length > max) bad(`${field} must be a byte string of at most ${max} bytes`);
  if (exact !== undefined && v.length !== exact) bad(`${field} must be ${exact} bytes`);
  return v;
}

/** An array of byte strings of `size` bytes each. */
function fixedList(v: unknown, field: string, size: number, min: number, max: number): Uint8Array[] {
  if (!Array.isArray(v) || v.length < min || v.length > max) bad(`${field} must have ${min}..${max} entries`);
  return v.map((e, i) => bytes(e, `${field}[${i}]`, size, size));
}

function str(v: unknown, field: string, max: number): string {
  if (typeof v !== 'string' || v.length > max) bad(`${field} must be a string of at most ${max} characters`);
  return v;
}

function num(v: unknown, field: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) bad(`${field} must be a number in [${min}, ${max}]`);
  return v;
}

function int(v: unknown, field: string, min: number, max: number): number {
  const n = num(v, field, min, max);
  if (!Number.isInteger(n)) bad(`${field} must be an integer`);
  return n;
}

const DIRECTIONS: LinkDirection[] = ['rx', 'tx', 'duplex'];
const CARGO: Cargo[] = ['headers', 'tx', 'blocks'];
const STATES: LinkState[] = ['starting', 'up', 'degraded', 'down', 'stopped'];
const LEVELS = ['debug', 'info', 'warn', 'error'] as const;

export function parseCapabilities(v: unknown): LinkCapabilities {
  const o = obj(v);
  if (!DIRECTIONS.includes(o.direction as LinkDirection)) bad('caps.direction');
  if (!Array.isArray(o.carries) || o.carries.length > 3 || !o.carries.every((c) => CARGO.includes(c as Cargo))) bad('caps.carries');
  if (typeof o.needsCallsign !== 'boolean') bad('caps.needsCallsign');
  return {
    direction: o.direction as LinkDirection,
    mtu: num(o.mtu, 'caps.mtu', 1, 16_000_000),
    bitrate: num(o.bitrate, 'caps.bitrate', 0, 1e12),
    dutyCycle: num(o.dutyCycle, 'caps.dutyCycle', 1e-6, 1),
    carries: [...new Set(o.carries as Cargo[])],
    needsCallsign: o.needsCallsign,
    ...(o.requestsPerSecond === undefined ? {} : { requestsPerSecond: num(o.requestsPerSecond, 'caps.requestsPerSecond', 0, 1e6) }),
    ...(o.burst === undefined ? {} : { burst: num(o.burst, 'caps.burst', 0, 1e6) }),
  };
}

/** Strictly validates a message from a driver child. */
export function parseChildMessage(v: unknown): ChildMessage {
  const o = obj(v);
  switch (o.t) {
    case 'hello':
      return { t: 'hello', caps: parseCapabilities(o.caps) };
    case 'headers':
      return { t: 'headers', headers: fixedList(o.headers, 'headers', 80, 1, MAX_HEADERS_PER_IPC) };
    case 'tx':
      return { t: 'tx', raw: bytes(o.raw, 'raw', MAX_TX_BYTES) };
    case 'block':
      return { t: 'block', hash: bytes(o.hash, 'hash', 32, 32), raw: bytes(o.raw, 'raw', MAX_BLOCK_BYTES) };
    case 'block-missing':
      return { t: 'block-missing', hash: bytes(o.hash, 'hash', 32, 32), reason: str(o.reason, 'reason', 500) };
    case 'tip': {
      const height = int(o.height, 'height', 0, 100_000_000);
      const hash = o.hash === undefined ? undefined : bytes(o.hash, 'hash', 32, 32);
      const chainWork = o.chainWork === undefined ? undefined : bytesToBigIntBE(bytes(o.chainWork, 'chainWork', 32));
      return { t: 'tip', height, hash, chainWork };
    }
    case 'state': {
      if (!STATES.includes(o.state as LinkState)) bad('state');
      return { t: 'state', state: o.state as LinkState, reason: o.reason === undefined ? undefined : str(o.reason, 'reason', 500) };
    }
    case 'tx-ack':
      return { t: 'tx-ack', prefixes: fixedList(o.prefixes, 'prefixes', TXID_PREFIX_BYTES, 1, MAX_TXACK_ENTRIES) };
    case 'beacon-wanted':
      return { t: 'beacon-wanted', max: int(o.max, 'max', 1, MAX_HEADERS_PER_IPC) };
    case 'headers-wanted': {
      if (!Array.isArray(o.locator) || o.locator.length < 1 || o.locator.length > 16) bad('wants.locator must have 1..16 entries');
      const locator = o.locator.map((e, i) => {
        const x = obj(e);
        return { height: int(x.height, `locator[${i}].height`, 0, 100_000_000), prefix: bytes(x.prefix, `locator[${i}].prefix`, 32) };
      });
      const max = num(o.max, 'max', 0, MAX_HEADERS_PER_IPC);
      return { t: 'headers-wanted', locator, max: Math.floor(max) };
    }
    case 'log': {
      if (!LEVELS.includes(o.level as (typeof LEVELS)[number])) bad('log level');
      return { t: 'log', level: o.level as (typeof LEVELS)[number], msg: str(o.msg, 'msg', 1000) };
    }
    case 'counters': {
      const values = obj(o.values);
      const keys = Object.keys(values);
      if (keys.length > 200) bad('too many counters');
      const out: Record<string, number> = {};
      for (const k of keys) {
        if (!/^[a-z0-9_.-]{1,64}$/i.test(k)) bad(`counter name ${JSON.stringify(k.slice(0, 70))}`);
        out[k] = num(values[k], `counters.${k}`, 0, Number.MAX_SAFE_INTEGER);
      }
      let gauges: string[] | undefined;
      if (o.gauges !== undefined) {
        if (!Array.isArray(o.gauges) || o.gauges.length > keys.length) bad('counters.gauges');
        gauges = (o.gauges as unknown[]).map((g) => {
          if (typeof g !== 'string' || !(g in out)) bad('counters.gauges names a value it does not carry');
          return g as string;
        });
      }
      return gauges ? { t: 'counters', values: out, gauges } : { t: 'counters', values: out };
    }
    default:
      bad(`unknown type ${JSON.stringify(String(o.t).slice(0, 20))}`);
  }
}

/** Parses a message from the parent (the child trusts its parent, but a typo should still fail loudly). */
export function parseParentMessage(v: unknown): ParentMessage {
  const o = obj(v);
  switch (o.t) {
    case 'start': {
      const options = obj(o.options);
      const opts: Record<string, string> = {};
      for (const [k, val] of Object.entries(options)) opts[k] = str(val, `options.${k}`, 4096);
      return {
        t: 'start',
        name: str(o.name, 'name', 64),
        type: str(o.type, 'type', 32),
        options: opts,
        network: str(o.network, 'network', 16),
      };
    }
    case 'request-headers':
      return { t: 'request-headers', locator: fixedList(o.locator, 'locator', 32, 0, 101) };
    case 'send-headers':
      return {
        t: 'send-headers',
        parentHeight: int(o.parentHeight, 'parentHeight', 0, 100_000_000),
        parent: bytes(o.parent, 'parent', 80, 80),
        headers: fixedList(o.headers, 'headers', 80, 0, MAX_HEADERS_PER_IPC),
      };
    case 'set-context':
      return {
        t: 'set-context',
        fromHeight: int(o.fromHeight, 'fromHeight', 0, 100_000_000),
        headers: fixedList(o.headers, 'headers', 80, 0, MAX_HEADERS_PER_IPC),
      };
    case 'send-tx':
      return { t: 'send-tx', raw: bytes(o.raw, 'raw', MAX_TX_BYTES) };
    case 'send-tx-ack':
      return { t: 'send-tx-ack', txids: fixedList(o.txids, 'txids', 32, 1, MAX_TXACK_ENTRIES) };
    case 'fetch-block':
      return { t: 'fetch-block', hash: bytes(o.hash, 'hash', 32, 32) };
    case 'stop':
      return { t: 'stop' };
    default:
      bad(`unknown parent message ${JSON.stringify(String(o.t).slice(0, 20))}`);
  }
}
