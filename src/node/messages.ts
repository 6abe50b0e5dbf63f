// Payloads of the P2P messages altnet speaks. Strict parsing: truncated input, trailing
// bytes and absurd counts are MalformedInputError with a stable code, never a crash.
import { HEADER_SIZE } from '../chain/header.js';
import { readU32LE, writeU32LE } from '../util/bytes.js';
import { MalformedInputError } from '../util/errors.js';
import { MAX_HEADERS_PER_MESSAGE } from '../chain/header.js';

export const PROTOCOL_VERSION = 70016;
export { MAX_HEADERS_PER_MESSAGE };
/** Core's MAX_LOCATOR_SZ. */
export const MAX_LOCATOR_SIZE = 101;
/** Core's MAX_INV_SZ. */
export const MAX_INV_SIZE = 50_000;

export const Services = {
  NETWORK: 1n,
  WITNESS: 8n,
  NETWORK_LIMITED: 1024n,
  P2P_V2: 2048n,
} as const;

export const InvType = {
  TX: 1,
  BLOCK: 2,
  WTX: 5,
  WITNESS_TX: 0x40000001,
  WITNESS_BLOCK: 0x40000002,
} as const;

export class WireReader {
  private o = 0;
  constructor(
    private readonly b: Uint8Array,
    private readonly what: string,
  ) {}

  private need(n: number): void {
    if (this.o + n > this.b.length) {
      throw new MalformedInputError('p2p-truncated', `${this.what}: truncated (need ${n} bytes at offset ${this.o} of ${this.b.length})`);
    }
  }
  bytes(n: number): Uint8Array {
    return this.view(n).slice();
  }
  /** The next n bytes as a view of the input (no copy). */
  view(n: number): Uint8Array {
    this.need(n);
    const v = this.b.subarray(this.o, this.o + n);
    this.o += n;
    return v;
  }
  u8(): number {
    this.need(1);
    return this.b[this.o++];
  }
  u16BE(): number {
    this.need(2);
    const v = (this.b[this.o] << 8) | this.b[this.o + 1];
    this.o += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = readU32LE(this.b, this.o);
    this.o += 4;
    return v;
  }
  i32(): number {
    return this.u32() | 0;
  }
  u64(): bigint {
    const lo = BigInt(this.u32());
    const hi = BigInt(this.u32());
    return (hi << 32n) | lo;
  }
  i64(): bigint {
    return BigInt.asIntN(64, this.u64());
  }
  /** CompactSize, rejecting non-canonical encodings as Core does. */
  compactSize(): number {
    const first = this.u8();
    if (first < 0xfd) return first;
    let v: number;
    let min: number;
    if (first === 0xfd) {
      this.need(2);
      v = this.b[this.o] | (this.b[this.o + 1] << 8);
      this.o += 2;
      min = 0xfd;
    } else if (first === 0xfe) {
      v = this.u32();
      min = 0x10000;
    } else {
      const big = this.u64();
      if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new MalformedInputError('p2p-bad-compactsize', `${this.what}: size too large`);
      v = Number(big);
      min = 0x100000000;
    }
    if (v < min) throw new MalformedInputError('p2p-bad-compactsize', `${this.what}: non-canonical CompactSize`);
    return v;
  }
  /** CompactSize as a bigint (up to 2^64 - 1: service bits), rejecting non-canonical encodings. */
  compactSizeBig(): bigint {
    const first = this.u8();
    if (first < 0xfd) return BigInt(first);
    const [v, min] =
      first === 0xfd
        ? [BigInt(this.u8() | (this.u8() << 8)), 0xfdn]
        : first === 0xfe
          ? [BigInt(this.u32()), 0x10000n]
          : [this.u64(), 0x100000000n];
    if (v < min) throw new MalformedInputError('p2p-bad-compactsize', `${this.what}: non-canonical CompactSize`);
    return v;
  }
  /** A count that must not exceed `max`, checked before anything is allocated. */
  count(max: number): number {
    const n = this.compactSize();
    if (n > max) throw new MalformedInputError('p2p-oversize', `${this.what}: count ${n} exceeds ${max}`);
    return n;
  }
  varString(max: number): string {
    const n = this.count(max);
    return new TextDecoder('utf-8', { fatal: false }).decode(this.bytes(n));
  }
  get remaining(): number {
    return this.b.length - this.o;
  }
  end(): void {
    if (this.o !== this.b.length) {
      throw new MalformedInputError('p2p-trailing-bytes', `${this.what}: ${this.b.length - this.o} unexpected trailing bytes`);
    }
  }
}

export class WireWriter {
  private parts: Uint8Array[] = [];
  private size = 0;

  bytes(b: Uint8Array): this {
    this.parts.push(b);
    this.size += b.length;
    return this;
  }
  u8(v: number): this {
    return this.bytes(Uint8Array.of(v & 0xff));
  }
  u32(v: number): this {
    const b = new Uint8Array(4);
    writeU32LE(b, 0, v >>> 0);
    return this.bytes(b);
  }
  i32(v: number): this {
    return this.u32(v >>> 0);
  }
  u64(v: bigint): this {
    const x = BigInt.asUintN(64, v);
    this.u32(Number(x & 0xffffffffn));
    return this.u32(Number(x >> 32n));
  }
  u16BE(v: number): this {
    return this.bytes(Uint8Array.of((v >> 8) & 0xff, v & 0xff));
  }
  compactSize(n: number): this {
    if (n < 0xfd) return this.u8(n);
    if (n <= 0xffff) return this.bytes(Uint8Array.of(0xfd, n & 0xff, (n >> 8) & 0xff));
    if (n <= 0xffffffff) return this.u8(0xfe).u32(n);
    return this.u8(0xff).u64(BigInt(n));
  }
  varString(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.compactSize(b.length).bytes(b);
  }
  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

export interface NetAddress {
  services: bigint;
  /** 16 bytes, IPv4-mapped for IPv4. */
  ip: Uint8Array;
  port: number;
}

export interface VersionMessage {
  version: number;
  services: bigint;
  timestamp: bigint;
  addrRecv: NetAddress;
  addrFrom: NetAddress;
  nonce: bigint;
  userAgent: string;
  startHeight: number;
  relay: boolean;
}

export function ipv4Mapped(a: number, b: number, c: number, d: number): Uint8Array {
  return Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d);
}

function readAddr(r: WireReader): NetAddress {
  return { services: r.u64(), ip: r.bytes(16), port: r.u16BE() };
}
function writeAddr(w: WireWriter, a: NetAddress): void {
  w.u64(a.services).bytes(a.ip).u16BE(a.port);
}

export function encodeVersion(v: VersionMessage): Uint8Array {
  const w = new WireWriter().i32(v.version).u64(v.services).u64(v.timestamp);
  writeAddr(w, v.addrRecv);
  writeAddr(w, v.addrFrom);
  return w
    .u64(v.nonce)
    .varString(v.userAgent)
    .i32(v.startHeight)
    .u8(v.relay ? 1 : 0)
    .finish();
}

export function decodeVersion(p: Uint8Array): VersionMessage {
  const r = new WireReader(p, 'version');
  const version = r.i32();
  const services = r.u64();
  const timestamp = r.i64();
  const addrRecv = readAddr(r);
  // Core reads the rest only if present; very old peers stop here. We require it all.
  const addrFrom = readAddr(r);
  const nonce = r.u64();
  const userAgent = r.varString(256);
  const startHeight = r.i32();
  const relay = r.remaining > 0 ? r.u8() !== 0 : true;
  // Core tolerates trailing bytes in version (future fields), so do we.
  return { version, services, timestamp, addrRecv, addrFrom, nonce, userAgent, startHeight, relay };
}

export function encodeNonce(nonce: bigint): Uint8Array {
  return new WireWriter().u64(nonce).finish();
}

export function decodeNonce(p: Uint8Array, what: string): bigint {
  const r = new WireReader(p, what);
  const n = r.u64();
  r.end();
  return n;
}

export interface GetHeadersMessage {
  version: number;
  /** Block hashes, internal byte order, newest first. */
  locator: Uint8Array[];
  /** All zero: as many as allowed. */
  stopHash: Uint8Array;
}

export function encodeGetHeaders(m: GetHeadersMessage): Uint8Array {
  const w = new WireWriter().u32(m.version).compactSize(m.locator.length);
  for (const h of m.locator) w.bytes(h);
  return w.bytes(m.stopHash).finish();
}

export function decodeGetHeaders(p: Uint8Array, what = 'getheaders'): GetHeadersMessage {
  const r = new WireReader(p, what);
  const version = r.u32();
  const n = r.count(MAX_LOCATOR_SIZE);
  const locator: Uint8Array[] = [];
  for (let i = 0; i < n; i++) locator.push(r.bytes(32));
  const stopHash = r.bytes(32);
  r.end();
  return { version, locator, stopHash };
}

export function encodeHeaders(headers: Uint8Array[]): Uint8Array {
  if (headers.length > MAX_HEADERS_PER_MESSAGE) {
    throw new MalformedInputError('p2p-oversize', `at most ${MAX_HEADERS_PER_MESSAGE} headers per message`);
  }
  const w = new WireWriter().compactSize(headers.length);
  for (const h of headers) {
    if (h.length !== HEADER_SIZE) throw new MalformedInputError('header-size', 'a block header is 80 bytes');
    w.bytes(h).u8(0);
  }
  return w.finish();
}

/**
 * The headers of a `headers` message, each a copy of its own; with `shared`, views of one copy
 * of all of them instead (a kept header keeps its message's headers alive). An 80-byte copy is
 * an ArrayBuffer outside V8's heap (V8 keeps only those of at most 64 bytes inside): a malloc'd
 * store plus its bookkeeping per header, freed at a later GC among longer-lived allocations, so
 * glibc cannot give those pages back. Measured (issue 18, the p2p link driver after the memory
 * bench's sync, malloc_trim(0) from gdb): 1.2-2.6 MB of freed heap kept with per-header copies;
 * 8,000 80-byte slice()s in a bare jitless Node leave 0.9 MB trimmable, subarray()s 0.07 MB.
 */
export function decodeHeaders(p: Uint8Array, shared = false): Uint8Array[] {
  const r = new WireReader(p, 'headers');
  const n = r.count(MAX_HEADERS_PER_MESSAGE);
  const out: Uint8Array[] = [];
  const all = shared ? new Uint8Array(n * HEADER_SIZE) : undefined;
  for (let i = 0; i < n; i++) {
    if (all) {
      all.set(r.view(HEADER_SIZE), i * HEADER_SIZE);
      out.push(all.subarray(i * HEADER_SIZE, (i + 1) * HEADER_SIZE));
    } else out.push(r.bytes(HEADER_SIZE));
    // Each header is followed by a transaction count, which must be zero.
    if (r.compactSize() !== 0) throw new MalformedInputError('p2p-headers-txcount', 'headers message carries a non-zero transaction count');
  }
  r.end();
  return out;
}

export interface InvItem {
  type: number;
  /** Internal byte order. */
  hash: Uint8Array;
}

export function encodeInv(items: InvItem[]): Uint8Array {
  const w = new WireWriter().compactSize(items.length);
  for (const it of items) w.u32(it.type).bytes(it.hash);
  return w.finish();
}

/** Most addresses one `addr` message may carry (Bitcoin Core's MAX_ADDR_TO_SEND). */
export const MAX_ADDR_PER_MESSAGE = 1000;

/** `addr` (protocol >= 31402): per entry a u32 time, then services, 16-byte IP and big-endian port. */
export function decodeAddr(p: Uint8Array): Array<NetAddress & { time: number }> {
  const r = new WireReader(p, 'addr');
  const n = r.count(MAX_ADDR_PER_MESSAGE);
  const out: Array<NetAddress & { time: number }> = [];
  for (let i = 0; i < n; i++) {
    const time = r.u32();
    out.push({ time, ...readAddr(r) });
  }
  r.end();
  return out;
}

export function decodeInv(p: Uint8Array, what: string): InvItem[] {
  const r = new WireReader(p, what);
  const n = r.count(MAX_INV_SIZE);
  const out: InvItem[] = [];
  for (let i = 0; i < n; i++) out.push({ type: r.u32(), hash: r.bytes(32) });
  r.end();
  return out;
}
