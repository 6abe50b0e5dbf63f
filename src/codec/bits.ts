// Bit- and byte-level readers and writers shared by the codecs. Every read is bounds-checked
// and fails with MalformedInputError, so decoders never index past their input.
import { MalformedInputError } from '../util/errors.js';

/** MSB-first bit writer: the first bit written is the most significant bit of byte 0. */
export class BitWriter {
  private buf: Uint8Array;
  private bitLen = 0;

  constructor(initialBytes = 64) {
    this.buf = new Uint8Array(Math.max(8, initialBytes));
  }

  get lengthBits(): number {
    return this.bitLen;
  }

  private ensure(extraBits: number): void {
    const need = (this.bitLen + extraBits + 7) >>> 3;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf);
    this.buf = next;
  }

  /** Writes the low `n` bits of `value` (0 <= n <= 32), most significant first. */
  writeBits(value: number, n: number): void {
    if (n === 0) return;
    this.ensure(n);
    for (let i = n - 1; i >= 0; i--) {
      if ((value >>> i) & 1) this.buf[this.bitLen >>> 3] |= 0x80 >>> (this.bitLen & 7);
      this.bitLen++;
    }
  }

  writeBit(bit: number): void {
    this.ensure(1);
    if (bit) this.buf[this.bitLen >>> 3] |= 0x80 >>> (this.bitLen & 7);
    this.bitLen++;
  }

  /** Bytes written so far; the last byte is padded with zero bits. */
  finish(): Uint8Array {
    return this.buf.slice(0, (this.bitLen + 7) >>> 3);
  }
}

export class BitReader {
  private pos: number;
  private readonly endBit: number;

  constructor(
    private readonly buf: Uint8Array,
    startByte = 0,
    endByte = buf.length,
  ) {
    this.pos = startByte * 8;
    this.endBit = endByte * 8;
  }

  get remainingBits(): number {
    return this.endBit - this.pos;
  }

  readBit(): number {
    if (this.pos >= this.endBit) throw truncated('bit stream');
    const bit = (this.buf[this.pos >>> 3] >>> (7 - (this.pos & 7))) & 1;
    this.pos++;
    return bit;
  }

  /** Reads `n` bits (0 <= n <= 32) as an unsigned number, most significant first. */
  readBits(n: number): number {
    if (n > this.endBit - this.pos) throw truncated('bit stream');
    let v = 0;
    for (let i = 0; i < n; i++) {
      v = (v << 1) | ((this.buf[this.pos >>> 3] >>> (7 - (this.pos & 7))) & 1);
      this.pos++;
    }
    return v >>> 0;
  }

  /**
   * The stream must end here: fewer than 8 bits left and all of them zero. Keeps the encoding
   * canonical (one byte string per value), which test vectors rely on.
   */
  expectEnd(what: string): void {
    const left = this.endBit - this.pos;
    if (left >= 8) {
      throw new MalformedInputError(
        'codec-trailing-bytes',
        `${what}: ${left >> 3} unexpected bytes after the end; the data is corrupt or from a newer version`,
      );
    }
    if (left > 0 && this.readBits(left) !== 0) {
      throw new MalformedInputError('codec-padding', `${what}: padding bits are not zero; the data is corrupt`);
    }
  }
}

export function truncated(what: string): MalformedInputError {
  return new MalformedInputError('codec-truncated', `${what} ends too early; the data is truncated or corrupt`);
}

/** Unsigned LEB128, at most 5 bytes, value < 2^32, minimal form only. */
export function writeLeb128(out: number[], value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new RangeError(`LEB128 value out of range: ${value}`);
  let v = value;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

export function leb128Bytes(value: number): Uint8Array {
  const out: number[] = [];
  writeLeb128(out, value);
  return Uint8Array.from(out);
}

export function leb128Length(value: number): number {
  let n = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    n++;
  }
  return n;
}

/** Sequential byte reader with bounds checks. */
export class ByteReader {
  constructor(
    readonly buf: Uint8Array,
    public pos = 0,
    readonly end = buf.length,
  ) {}

  get remaining(): number {
    return this.end - this.pos;
  }

  u8(what: string): number {
    if (this.pos >= this.end) throw truncated(what);
    return this.buf[this.pos++];
  }

  bytes(n: number, what: string): Uint8Array {
    if (n > this.end - this.pos) throw truncated(what);
    const out = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Unsigned LEB128 as written by writeLeb128; rejects overlong and non-minimal forms. */
  leb128(what: string, max = 0xffffffff): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 5; i++) {
      const b = this.u8(what);
      value += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (i > 0 && b === 0) {
          throw new MalformedInputError('codec-varint', `${what}: varint is not in minimal form; the data is corrupt`);
        }
        if (value > max) {
          throw new MalformedInputError('codec-range', `${what}: ${value} is above the limit ${max}; the data is corrupt or hostile`);
        }
        return value;
      }
      scale *= 128;
    }
    throw new MalformedInputError('codec-varint', `${what}: varint longer than 5 bytes; the data is corrupt`);
  }
}
