// Bench reference: the JSON-with-hex driver IPC as it was before the CBOR change (commit 9b4a671),
// kept verbatim so `npm run bench` can measure the new one against it in the same run.
// Messages between the main process and a link driver's child process.
// Framing: 4-byte little-endian length, then UTF-8 JSON. Bytes travel as hex.
// The parent treats every child message as untrusted: size-bounded before it is buffered,
// then checked field by field; anything else is a MalformedInputError with a stable code.
import { MalformedInputError } from '../../../src/util/errors.js';
import { fromHex, readU32LE, toHex, writeU32LE } from '../../../src/util/bytes.js';
import type { Cargo, LinkCapabilities, LinkDirection, LinkState } from '../../../src/links/link.js';

/** Large enough for one block (4 MB serialized max) as hex plus JSON. */
export const DEFAULT_MAX_IPC_MESSAGE = 8_500_000;
const MAX_HEADERS_PER_IPC = 2000;
const MAX_TX_BYTES = 400_000;
const MAX_BLOCK_BYTES = 4_000_000;

export type ChildMessage =
  | { t: 'hello'; caps: LinkCapabilities }
  | { t: 'headers'; headers: Uint8Array[] }
  | { t: 'tx'; raw: Uint8Array }
  | { t: 'block'; raw: Uint8Array }
  | { t: 'tip'; height: number; hash?: Uint8Array; chainWork?: bigint }
  | { t: 'state'; state: LinkState; reason?: string }
  | { t: 'wants'; locator: Array<{ height: number; prefix: Uint8Array }>; max: number }
  | { t: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; msg: string }
  | { t: 'counters'; values: Record<string, number> };

export type ParentMessage =
  | { t: 'start'; name: string; type: string; options: Record<string, string>; network: string }
  | { t: 'request'; locator: Uint8Array[] }
  | { t: 'send-headers'; parentHeight: number; parent: Uint8Array; headers: Uint8Array[] }
  | { t: 'context'; fromHeight: number; headers: Uint8Array[] }
  | { t: 'send-tx'; raw: Uint8Array }
  | { t: 'stop' };

export function frameMessage(msg: ChildMessage | ParentMessage): Uint8Array {
  const json = JSON.stringify(msg, (_k, v) => {
    if (v instanceof Uint8Array) return toHex(v);
    if (typeof v === 'bigint') return '0x' + v.toString(16);
    return v;
  });
  const body = new TextEncoder().encode(json);
  const out = new Uint8Array(4 + body.length);
  writeU32LE(out, 0, body.length);
  out.set(body, 4);
  return out;
}

/** Splits a byte stream into JSON bodies; rejects a length over the bound before buffering it. */
export class IpcDecoder {
  private buf = new Uint8Array(0);
  constructor(private readonly maxMessage = DEFAULT_MAX_IPC_MESSAGE) {}

  push(chunk: Uint8Array): unknown[] {
    const joined = new Uint8Array(this.buf.length + chunk.length);
    joined.set(this.buf);
    joined.set(chunk, this.buf.length);
    let o = 0;
    const out: unknown[] = [];
    while (joined.length - o >= 4) {
      const len = readU32LE(joined, o);
      if (len > this.maxMessage) {
        throw new MalformedInputError('ipc-oversize', `driver message of ${len} bytes exceeds the ${this.maxMessage}-byte limit`);
      }
      if (joined.length - o - 4 < len) break;
      const body = joined.subarray(o + 4, o + 4 + len);
      o += 4 + len;
      try {
        out.push(JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body)));
      } catch {
        throw new MalformedInputError('ipc-bad-json', 'driver message is not valid UTF-8 JSON');
      }
    }
    this.buf = joined.slice(o);
    return out;
  }
}

function bad(what: string): never {
  throw new MalformedInputError('ipc-bad-message', `driver message: ${what}`);
}

function obj(v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad('not an object');
  return v as Record<string, unknown>;
}

function hexBytes(v: unknown, field: string, max: number, exact?: number): Uint8Array {
  if (typeof v !== 'string' || v.length % 2 !== 0 || v.length > max * 2 || !/^[0-9a-f]*$/.test(v))
    bad(`${field} is not hex of at most ${max} bytes`);
  if (exact !== undefined && v.length !== exact * 2) bad(`${field} must be ${exact} bytes`);
  return fromHex(v);
}

function str(v: unknown, field: string, max: number): string {
  if (typeof v !== 'string' || v.length > max) bad(`${field} must be a string of at most ${max} characters`);
  return v;
}

function num(v: unknown, field: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) bad(`${field} must be a number in [${min}, ${max}]`);
  return v;
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
    case 'headers': {
      if (!Array.isArray(o.headers) || o.headers.length === 0 || o.headers.length > MAX_HEADERS_PER_IPC)
        bad(`headers must be 1..${MAX_HEADERS_PER_IPC} entries`);
      return { t: 'headers', headers: o.headers.map((h, i) => hexBytes(h, `headers[${i}]`, 80, 80)) };
    }
    case 'tx':
      return { t: 'tx', raw: hexBytes(o.raw, 'raw', MAX_TX_BYTES) };
    case 'block':
      return { t: 'block', raw: hexBytes(o.raw, 'raw', MAX_BLOCK_BYTES) };
    case 'tip': {
      const height = num(o.height, 'height', 0, 100_000_000);
      if (!Number.isInteger(height)) bad('height must be an integer');
      const hash = o.hash === undefined ? undefined : hexBytes(o.hash, 'hash', 32, 32);
      let chainWork: bigint | undefined;
      if (o.chainWork !== undefined) {
        if (typeof o.chainWork !== 'string' || !/^0x[0-9a-f]{1,64}$/.test(o.chainWork)) bad('chainWork must be 0x-hex of at most 256 bits');
        chainWork = BigInt(o.chainWork);
      }
      return { t: 'tip', height, hash, chainWork };
    }
    case 'state': {
      if (!STATES.includes(o.state as LinkState)) bad('state');
      return { t: 'state', state: o.state as LinkState, reason: o.reason === undefined ? undefined : str(o.reason, 'reason', 500) };
    }
    case 'wants': {
      if (!Array.isArray(o.locator) || o.locator.length < 1 || o.locator.length > 16) bad('wants.locator must have 1..16 entries');
      const locator = o.locator.map((e, i) => {
        const x = obj(e);
        const height = num(x.height, `locator[${i}].height`, 0, 100_000_000);
        if (!Number.isInteger(height)) bad('locator height must be an integer');
        return { height, prefix: hexBytes(x.prefix, `locator[${i}].prefix`, 32) };
      });
      const max = num(o.max, 'max', 0, 2000);
      return { t: 'wants', locator, max: Math.floor(max) };
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
      return { t: 'counters', values: out };
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
    case 'request':
      if (!Array.isArray(o.locator) || o.locator.length > 101) bad('locator');
      return { t: 'request', locator: o.locator.map((h, i) => hexBytes(h, `locator[${i}]`, 32, 32)) };
    case 'send-headers':
      if (!Array.isArray(o.headers) || o.headers.length > MAX_HEADERS_PER_IPC) bad('headers');
      return {
        t: 'send-headers',
        parentHeight: num(o.parentHeight, 'parentHeight', 0, 100_000_000),
        parent: hexBytes(o.parent, 'parent', 80, 80),
        headers: o.headers.map((h, i) => hexBytes(h, `headers[${i}]`, 80, 80)),
      };
    case 'context':
      if (!Array.isArray(o.headers) || o.headers.length > MAX_HEADERS_PER_IPC) bad('headers');
      return {
        t: 'context',
        fromHeight: num(o.fromHeight, 'fromHeight', 0, 100_000_000),
        headers: o.headers.map((h, i) => hexBytes(h, `headers[${i}]`, 80, 80)),
      };
    case 'send-tx':
      return { t: 'send-tx', raw: hexBytes(o.raw, 'raw', MAX_TX_BYTES) };
    case 'stop':
      return { t: 'stop' };
    default:
      bad(`unknown parent message ${JSON.stringify(String(o.t).slice(0, 20))}`);
  }
}
