// KISS framing (Chepponis & Karn, "The KISS TNC", 1987): FEND-delimited frames, FESC escapes,
// a type byte whose high nibble is the TNC port and low nibble the command. Pure functions and a
// streaming decoder whose memory is bounded by maxFrameBytes.

export const FEND = 0xc0;
export const FESC = 0xdb;
export const TFEND = 0xdc;
export const TFESC = 0xdd;

export const KissCommand = {
  Data: 0x00,
  TxDelay: 0x01,
  Persistence: 0x02,
  SlotTime: 0x03,
  TxTail: 0x04,
  FullDuplex: 0x05,
  SetHardware: 0x06,
  /** Leave KISS mode; a whole type byte (0xFF), not port-nibbled. */
  Return: 0xff,
} as const;

export interface KissFrame {
  /** The raw type byte (RNode uses it as a command number 0x00..0xFF). */
  type: number;
  /** High nibble of the type byte. */
  port: number;
  /** Low nibble of the type byte. */
  command: number;
  payload: Uint8Array;
}

/** Escapes FEND and FESC inside a frame body. */
export function kissEscape(body: Uint8Array): Uint8Array {
  let extra = 0;
  for (const b of body) if (b === FEND || b === FESC) extra++;
  const out = new Uint8Array(body.length + extra);
  let j = 0;
  for (const b of body) {
    if (b === FEND) {
      out[j++] = FESC;
      out[j++] = TFEND;
    } else if (b === FESC) {
      out[j++] = FESC;
      out[j++] = TFESC;
    } else out[j++] = b;
  }
  return out;
}

/** One complete KISS frame on the wire: FEND type payload FEND, with escapes. */
export function kissEncodeRaw(type: number, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  if (!Number.isInteger(type) || type < 0 || type > 0xff) throw new RangeError(`KISS type byte must be 0..255, got ${type}`);
  const body = new Uint8Array(1 + payload.length);
  body[0] = type;
  body.set(payload, 1);
  const esc = kissEscape(body);
  const out = new Uint8Array(esc.length + 2);
  out[0] = FEND;
  out.set(esc, 1);
  out[out.length - 1] = FEND;
  return out;
}

export function kissEncode(port: number, command: number, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  if (!Number.isInteger(port) || port < 0 || port > 15) throw new RangeError(`KISS port must be 0..15, got ${port}`);
  if (!Number.isInteger(command) || command < 0 || command > 15) throw new RangeError(`KISS command must be 0..15, got ${command}`);
  return kissEncodeRaw((port << 4) | command, payload);
}

export function kissData(port: number, payload: Uint8Array): Uint8Array {
  return kissEncode(port, KissCommand.Data, payload);
}

function byteParam(name: string, v: number): Uint8Array {
  if (!Number.isInteger(v) || v < 0 || v > 255) throw new RangeError(`${name} must encode to 0..255, got ${v}`);
  return Uint8Array.of(v);
}

/** Keyup delay, in ms (sent in 10 ms units). */
export function kissTxDelay(port: number, ms: number): Uint8Array {
  return kissEncode(port, KissCommand.TxDelay, byteParam('TXDELAY', Math.round(ms / 10)));
}

/** Persistence p, 0..255 (probability (p+1)/256 of transmitting in a slot). */
export function kissPersistence(port: number, p: number): Uint8Array {
  return kissEncode(port, KissCommand.Persistence, byteParam('persistence', p));
}

/** Slot interval, in ms (10 ms units). */
export function kissSlotTime(port: number, ms: number): Uint8Array {
  return kissEncode(port, KissCommand.SlotTime, byteParam('SlotTime', Math.round(ms / 10)));
}

/** Time to hold the transmitter after the frame, in ms (10 ms units). */
export function kissTxTail(port: number, ms: number): Uint8Array {
  return kissEncode(port, KissCommand.TxTail, byteParam('TXtail', Math.round(ms / 10)));
}

export function kissFullDuplex(port: number, on: boolean): Uint8Array {
  return kissEncode(port, KissCommand.FullDuplex, Uint8Array.of(on ? 1 : 0));
}

export function kissSetHardware(port: number, data: Uint8Array): Uint8Array {
  return kissEncode(port, KissCommand.SetHardware, data);
}

export function kissReturn(): Uint8Array {
  return Uint8Array.of(FEND, KissCommand.Return, FEND);
}

export type KissDecodeError = 'kiss-frame-too-long' | 'kiss-bad-escape';

export interface KissDecoderOptions {
  /** Largest frame body (type byte + payload) kept; longer frames are discarded whole. */
  maxFrameBytes?: number;
  onError?(code: KissDecodeError): void;
}

/**
 * Streaming decoder: push arbitrary chunks, get complete frames. Empty frames (back-to-back FEND,
 * used as sync) are skipped. A frame with a bad escape or over the size bound is dropped and
 * reported through onError; decoding resumes at the next FEND.
 */
export class KissDecoder {
  private readonly max: number;
  private readonly buf: Uint8Array;
  private len = 0;
  private escaped = false;
  private dropping = false;
  private inFrame = false;

  constructor(private readonly o: KissDecoderOptions = {}) {
    this.max = o.maxFrameBytes ?? 1024;
    this.buf = new Uint8Array(this.max);
  }

  push(chunk: Uint8Array): KissFrame[] {
    const out: KissFrame[] = [];
    for (const b of chunk) {
      if (b === FEND) {
        if (this.inFrame && !this.dropping && this.len > 0) {
          if (this.escaped) this.o.onError?.('kiss-bad-escape');
          else {
            const type = this.buf[0];
            out.push({ type, port: type >> 4, command: type & 0x0f, payload: this.buf.slice(1, this.len) });
          }
        }
        this.inFrame = true;
        this.len = 0;
        this.escaped = false;
        this.dropping = false;
        continue;
      }
      // Bytes before the first FEND are line noise; a TNC always opens frames with FEND.
      if (!this.inFrame || this.dropping) continue;
      let v = b;
      if (this.escaped) {
        this.escaped = false;
        if (b === TFEND) v = FEND;
        else if (b === TFESC) v = FESC;
        else {
          this.o.onError?.('kiss-bad-escape');
          this.dropping = true;
          continue;
        }
      } else if (b === FESC) {
        this.escaped = true;
        continue;
      }
      if (this.len >= this.max) {
        this.o.onError?.('kiss-frame-too-long');
        this.dropping = true;
        continue;
      }
      this.buf[this.len++] = v;
    }
    return out;
  }
}
