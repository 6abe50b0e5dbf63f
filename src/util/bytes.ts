// Small byte helpers shared by every layer. Uint8Array in, Uint8Array out.

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/**
 * The bytes of `hex` (whole bytes of hex digits, either case), or undefined for anything else.
 * Checked without a regular expression: V8 keeps the last string a regular expression ran on
 * (the legacy RegExp.input) until the next match elsewhere, so the electrum link driver held its
 * last 2016-header answer (a 322 kB string) for as long as it idled after a sync (heap snapshot,
 * issue 18). Node's hex decoder stops at the first pair that is not two hex digits, so a short
 * result means bad input; it reads only a character's low byte ('0\u0130' would pass), so
 * non-ASCII input is refused first (its UTF-8 length differs from its length).
 */
export function parseHex(hex: string): Uint8Array | undefined {
  if (hex.length % 2 !== 0 || Buffer.byteLength(hex, 'utf8') !== hex.length) return undefined;
  const bytes = Buffer.from(hex, 'hex');
  return bytes.length === hex.length / 2 ? new Uint8Array(bytes) : undefined;
}

export function fromHex(hex: string): Uint8Array {
  const bytes = parseHex(hex);
  if (!bytes) throw new TypeError(`not a hex string of whole bytes: ${hex.length > 40 ? hex.slice(0, 40) + '…' : hex}`);
  return bytes;
}

/** Bitcoin shows hashes byte-reversed; this converts between internal order and display hex. */
export function hashToHex(hash: Uint8Array): string {
  return toHex(Uint8Array.from(hash).reverse());
}

export function hexToHash(hex: string): Uint8Array {
  const b = fromHex(hex);
  if (b.length !== 32) throw new TypeError(`a hash is 32 bytes, got ${b.length}`);
  return b.reverse();
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function readU32LE(b: Uint8Array, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
}

export function writeU32LE(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
  b[o + 2] = (v >>> 16) & 0xff;
  b[o + 3] = (v >>> 24) & 0xff;
}

/** Big-endian unsigned integer from bytes (used for 256-bit targets and work). */
export function bytesToBigIntBE(b: Uint8Array): bigint {
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
}

export function bigIntToBytesBE(v: bigint, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = len - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  if (v !== 0n) throw new RangeError(`value does not fit in ${len} bytes`);
  return out;
}
