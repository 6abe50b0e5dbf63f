// AX.25 v2.2 UI frames as carried inside KISS (no flags, no FCS: the TNC adds them). Address
// field: destination, source, up to 8 digipeaters, 7 bytes each (6 callsign characters shifted
// left one bit, then an SSID byte 0b CRR SSID E). Control 0x03 (UI), PID 0xF0 (no layer 3).
import { ConfigError, MalformedInputError } from '../../util/errors.js';

export interface Callsign {
  call: string;
  ssid: number;
}

export const AX25_CONTROL_UI = 0x03;
export const AX25_PID_NO_L3 = 0xf0;
/** AX.25 N1 default: largest information field. */
export const AX25_MAX_INFO = 256;
/** A UI frame without digipeaters: two 7-byte addresses, control and PID before the information field. */
export const AX25_HEADER_BYTES = 16;

const CALL_RE = /^[A-Z0-9]{1,6}$/;

/** Parses `N0CALL-7` (SSID optional, 0..15). Throws ConfigError on anything else. */
export function parseCallsign(text: string): Callsign {
  const m = /^([A-Za-z0-9]{1,6})(?:-(\d{1,2}))?$/.exec(text.trim());
  if (!m) {
    throw new ConfigError(
      'callsign-invalid',
      `"${text}" is not a callsign: use 1-6 letters/digits with an optional -SSID (0-15), e.g. N0CALL-7`,
    );
  }
  const ssid = m[2] === undefined ? 0 : Number(m[2]);
  if (ssid > 15) throw new ConfigError('callsign-invalid', `"${text}": SSID must be 0..15`);
  return { call: m[1].toUpperCase(), ssid };
}

export function formatCallsign(c: Callsign): string {
  return c.ssid ? `${c.call}-${c.ssid}` : c.call;
}

function encodeAddress(c: Callsign, out: Uint8Array, at: number, bit7: boolean, last: boolean): void {
  if (!CALL_RE.test(c.call) || !Number.isInteger(c.ssid) || c.ssid < 0 || c.ssid > 15) {
    throw new ConfigError('callsign-invalid', `invalid callsign ${JSON.stringify(c)}`);
  }
  const padded = c.call.padEnd(6, ' ');
  for (let i = 0; i < 6; i++) out[at + i] = padded.charCodeAt(i) << 1;
  out[at + 6] = (bit7 ? 0x80 : 0) | 0x60 | (c.ssid << 1) | (last ? 1 : 0);
}

function decodeAddress(b: Uint8Array, at: number): { c: Callsign; bit7: boolean; last: boolean } {
  let call = '';
  for (let i = 0; i < 6; i++) {
    const byte = b[at + i];
    if (byte & 1) throw new MalformedInputError('ax25-bad-address', 'AX.25 address ends inside a callsign');
    const ch = String.fromCharCode(byte >> 1);
    if (ch !== ' ' && !/[A-Z0-9]/.test(ch))
      throw new MalformedInputError('ax25-bad-address', `AX.25 callsign has character 0x${(byte >> 1).toString(16)}`);
    call += ch;
  }
  call = call.trimEnd();
  if (!CALL_RE.test(call)) throw new MalformedInputError('ax25-bad-address', `AX.25 callsign "${call}" is malformed`);
  const s = b[at + 6];
  return { c: { call, ssid: (s >> 1) & 0x0f }, bit7: (s & 0x80) !== 0, last: (s & 1) === 1 };
}

export interface Ax25UiFrame {
  destination: Callsign;
  source: Callsign;
  digipeaters?: Callsign[];
  /** Command frame (C bits 1/0) unless false. */
  command?: boolean;
  pid?: number;
  info: Uint8Array;
}

export function encodeAx25Ui(f: Ax25UiFrame): Uint8Array {
  const digis = f.digipeaters ?? [];
  if (digis.length > 8) throw new RangeError('AX.25 allows at most 8 digipeaters');
  if (f.info.length > AX25_MAX_INFO)
    throw new RangeError(`AX.25 information field is at most ${AX25_MAX_INFO} bytes, got ${f.info.length}`);
  const cmd = f.command ?? true;
  const addrLen = 14 + 7 * digis.length;
  const out = new Uint8Array(addrLen + 2 + f.info.length);
  encodeAddress(f.destination, out, 0, cmd, false);
  encodeAddress(f.source, out, 7, !cmd, digis.length === 0);
  digis.forEach((d, i) => encodeAddress(d, out, 14 + 7 * i, false, i === digis.length - 1));
  out[addrLen] = AX25_CONTROL_UI;
  out[addrLen + 1] = f.pid ?? AX25_PID_NO_L3;
  out.set(f.info, addrLen + 2);
  return out;
}

/** Decodes a UI frame; anything else (I/S/U frames other than UI, bad addresses) throws. */
export function decodeAx25Ui(b: Uint8Array): Ax25UiFrame & { digipeaters: Callsign[]; pid: number; command: boolean } {
  if (b.length < 16) throw new MalformedInputError('ax25-too-short', `AX.25 frame of ${b.length} bytes is too short`);
  const dst = decodeAddress(b, 0);
  const src = decodeAddress(b, 7);
  if (dst.last) throw new MalformedInputError('ax25-bad-address', 'AX.25 address field ends after the destination');
  const digipeaters: Callsign[] = [];
  let at = 14;
  let last = src.last;
  while (!last) {
    if (digipeaters.length === 8) throw new MalformedInputError('ax25-bad-address', 'AX.25 frame has more than 8 digipeaters');
    if (b.length < at + 7 + 2) throw new MalformedInputError('ax25-too-short', 'AX.25 address field runs past the frame');
    const d = decodeAddress(b, at);
    digipeaters.push(d.c);
    last = d.last;
    at += 7;
  }
  if (b.length < at + 2) throw new MalformedInputError('ax25-too-short', 'AX.25 frame has no control/PID bytes');
  const control = b[at];
  if ((control & 0xef) !== AX25_CONTROL_UI) {
    throw new MalformedInputError('ax25-not-ui', `AX.25 control 0x${control.toString(16)} is not a UI frame`);
  }
  const info = b.slice(at + 2);
  if (info.length > AX25_MAX_INFO) throw new MalformedInputError('ax25-info-too-long', `AX.25 information field of ${info.length} bytes`);
  return { destination: dst.c, source: src.c, digipeaters, command: dst.bit7 && !src.bit7, pid: b[at + 1], info };
}

export function sameCallsign(a: Callsign, b: Callsign): boolean {
  return a.call === b.call && a.ssid === b.ssid;
}
