// Byte framing over a BLE characteristic pair. GATT moves at most (ATT MTU - 3) bytes per write or
// notification and says nothing about where a frame starts or ends, so each service needs its own
// delimiting on top:
//  - the BLE KISS service (Mobilinkd TNC3/TNC4, PicoAPRS, aprs.fi "BLE KISS API"): plain KISS, a
//    byte stream exactly as on a serial line; frames may span notifications and one notification
//    may hold several frames.
//  - the Nordic UART Service: a raw byte stream with no framing of its own; we add a small one,
//    documented in docs/ble.md:
//        0xA5 | length (u16, big-endian) | payload | CRC-16/CCITT-FALSE over length+payload (u16 BE)
//    The sync byte and CRC let a receiver find the next frame after garbage or a cut.
// Pure functions and bounded decoders: bytes in, frames out, no I/O. KISS itself is the shared
// codec in src/links/kiss.
import { FEND, KissCommand, KissDecoder } from '../kiss/kiss.js';
import { crc16 } from '../../codec/crc.js';

/** What a decoder found that was not a good frame; each becomes a counter. */
export interface DecodeProblems {
  /** Bytes thrown away while looking for a frame start. */
  garbageBytes: number;
  /** Frames dropped because they broke the framing rules (bad escape, bad CRC). */
  badFrames: number;
  /** Frames dropped because they were longer than the limit. */
  oversize: number;
  /** KISS frames that were not data frames (TNC configuration chatter): ignored, as the spec says. */
  nonData: number;
}

export interface StreamDecoder {
  /** Feed bytes as they arrive; returns the complete frames (payloads) they finished. */
  push(bytes: Uint8Array): Uint8Array[];
  /** Forget any partial frame (new connection). */
  reset(): void;
  readonly problems: DecodeProblems;
}

function noProblems(): DecodeProblems {
  return { garbageBytes: 0, badFrames: 0, oversize: 0, nonData: 0 };
}

/**
 * KISS over a BLE byte stream: the shared bounded KissDecoder (src/links/kiss), keeping data
 * frames only and turning its error reports into counts. Holds at most maxPayload + 1 bytes.
 */
export class KissStreamDecoder implements StreamDecoder {
  readonly problems = noProblems();
  private decoder!: KissDecoder;
  /** No FEND seen since the last reset: what arrives is not inside any frame. */
  private beforeFirstFend = true;

  constructor(private readonly maxPayload: number) {
    this.reset();
  }

  reset(): void {
    this.beforeFirstFend = true;
    this.decoder = new KissDecoder({
      maxFrameBytes: this.maxPayload + 1,
      onError: (code) => {
        if (code === 'kiss-bad-escape') this.problems.badFrames++;
        else this.problems.oversize++;
      },
    });
  }

  push(bytes: Uint8Array): Uint8Array[] {
    if (this.beforeFirstFend) {
      const first = bytes.indexOf(FEND);
      // The shared decoder skips these silently; a peripheral sending them is worth counting.
      this.problems.garbageBytes += first < 0 ? bytes.length : first;
      if (first < 0) return [];
      this.beforeFirstFend = false;
      bytes = bytes.subarray(first);
    }
    const frames: Uint8Array[] = [];
    for (const f of this.decoder.push(bytes)) {
      // Only data frames carry payload; TNCs also send SetHardware and the like.
      if (f.command !== KissCommand.Data) this.problems.nonData++;
      else frames.push(f.payload);
    }
    return frames;
  }
}

// ---------------------------------------------------------------------------------------------
// Length-prefixed framing for the Nordic UART Service.

export const NUS_SYNC = 0xa5;
const NUS_HEADER = 3;
const NUS_TRAILER = 2;
export const NUS_OVERHEAD = NUS_HEADER + NUS_TRAILER;

/** CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no xor-out). */
/** CRC-16/CCITT-FALSE, the same check as the codec's frames. */
export { crc16 as crc16ccitt };

export function lengthPrefixEncode(payload: Uint8Array): Uint8Array {
  if (payload.length > 0xffff) throw new RangeError('payload longer than 65535 bytes');
  const out = new Uint8Array(payload.length + NUS_OVERHEAD);
  out[0] = NUS_SYNC;
  out[1] = payload.length >> 8;
  out[2] = payload.length & 0xff;
  out.set(payload, NUS_HEADER);
  const crc = crc16(out.subarray(1, NUS_HEADER + payload.length));
  out[NUS_HEADER + payload.length] = crc >> 8;
  out[NUS_HEADER + payload.length + 1] = crc & 0xff;
  return out;
}

/** Decoder for lengthPrefixEncode frames; holds at most maxPayload + 5 bytes. */
export class LengthPrefixDecoder implements StreamDecoder {
  readonly problems = noProblems();
  private buf: Uint8Array;
  private len = 0;

  constructor(private readonly maxPayload: number) {
    this.buf = new Uint8Array(maxPayload + NUS_OVERHEAD);
  }

  reset(): void {
    this.len = 0;
  }

  push(bytes: Uint8Array): Uint8Array[] {
    const frames: Uint8Array[] = [];
    let off = 0;
    while (off < bytes.length) {
      const n = Math.min(bytes.length - off, this.buf.length - this.len);
      this.buf.set(bytes.subarray(off, off + n), this.len);
      this.len += n;
      off += n;
      this.drain(frames);
    }
    return frames;
  }

  private drain(frames: Uint8Array[]): void {
    for (;;) {
      // Find the sync byte; everything before it is garbage.
      let start = 0;
      while (start < this.len && this.buf[start] !== NUS_SYNC) start++;
      if (start > 0) {
        this.problems.garbageBytes += start;
        this.shift(start);
      }
      if (this.len < NUS_HEADER) return;
      const size = (this.buf[1] << 8) | this.buf[2];
      if (size > this.maxPayload) {
        this.problems.oversize++;
        this.shift(1);
        continue;
      }
      const total = NUS_HEADER + size + NUS_TRAILER;
      if (this.len < total) return;
      const crc = (this.buf[NUS_HEADER + size] << 8) | this.buf[NUS_HEADER + size + 1];
      if (crc16(this.buf.subarray(1, NUS_HEADER + size)) !== crc) {
        // A false sync or a damaged frame: step past this sync byte and look again.
        this.problems.badFrames++;
        this.shift(1);
        continue;
      }
      frames.push(this.buf.slice(NUS_HEADER, NUS_HEADER + size));
      this.shift(total);
    }
  }

  private shift(n: number): void {
    this.buf.copyWithin(0, n, this.len);
    this.len -= n;
  }
}

/** Splits bytes into pieces of at most `size` (one GATT write each). */
export function chunk(bytes: Uint8Array, size: number): Uint8Array[] {
  if (size < 1) throw new RangeError('chunk size must be at least 1');
  const out: Uint8Array[] = [];
  for (let off = 0; off < bytes.length; off += size) out.push(bytes.subarray(off, off + size));
  return out;
}
