// Base of the radio board emulators, written from the devices' own firmware and manuals and
// importing NOTHING from src/ (a misunderstanding shared by driver and emulator must not pass).
// A device opens the far end of a socat pty with the real `serialport` package, speaks its
// host protocol there, and meets other devices on an emulated air (air.ts) that carries the
// exact bytes each device puts on air together with the PHY settings it transmits with.
import type { SerialPort } from 'serialport';
import { closeFarEnd, openFarEnd } from '../pty.js';

/**
 * LoRa PHY settings as a receiver or transmitter is configured. `syncWord` is in the SX127x
 * one-byte form; SX126x's two-byte register value 0xXYZW is the same word as 0xXZ (Semtech
 * SX1261/2 datasheet 13.4.9 / AN "SX126x sync word": 0x1424 = 0x12 private, 0x3444 = 0x34
 * public). A device whose on-air format is undocumented gets a sync word no other device uses.
 */
export interface Phy {
  frequencyHz: number;
  sf: number;
  bandwidthHz: number;
  /** Denominator of the coding rate: 5 = 4/5 ... 8 = 4/8. */
  codingRate: number;
  syncWord: number;
  preambleSymbols: number;
  crc: boolean;
  explicitHeader: boolean;
  invertIq: boolean;
  lowDataRateOptimize: boolean;
}

export interface AirPacket {
  phy: Phy;
  /** The bytes the modem puts into the LoRa payload (its own headers included). */
  bytes: Uint8Array;
}

/** SX126x two-byte sync word register value -> the SX127x one-byte form. */
export function syncWordFrom126x(w: number): number {
  return (((w >> 12) & 0xf) << 4) | ((w >> 4) & 0xf);
}

/** Symbol time in ms: 2^SF / BW (Semtech SX1276 datasheet 4.1.1.1). */
export function symbolMs(sf: number, bandwidthHz: number): number {
  return (2 ** sf / bandwidthHz) * 1000;
}

/**
 * Time on air (Semtech SX1276 datasheet 4.1.1.6-7, AN1200.13): preamble + 4.25 symbols, then
 * 8 + max(ceil((8PL - 4SF + 28 + 16CRC - 20IH) / (4(SF - 2DE))) * (CR), 0) payload symbols.
 */
export function timeOnAirMs(phy: Phy, payloadBytes: number): number {
  const t = symbolMs(phy.sf, phy.bandwidthHz);
  const de = phy.lowDataRateOptimize ? 1 : 0;
  const ih = phy.explicitHeader ? 0 : 1;
  const num = 8 * payloadBytes - 4 * phy.sf + 28 + (phy.crc ? 16 : 0) - 20 * ih;
  const n = 8 + Math.max(Math.ceil(num / (4 * (phy.sf - 2 * de))) * phy.codingRate, 0);
  return (phy.preambleSymbols + 4.25) * t + n * t;
}

export abstract class RadioDevice {
  protected port: SerialPort | undefined;
  /** Every packet this device put on the air, as on air. */
  readonly transmitted: AirPacket[] = [];
  /** Called for each transmission (the air joins devices through it). */
  onAir: ((p: AirPacket) => void) | undefined;
  /** Packets that reached the antenna, on matching settings, while the receiver was off. */
  missed = 0;
  /** Every line/frame the host wrote, for assertions (dialects fill it as they parse). */
  readonly commands: string[] = [];

  async start(path: string, baudRate = 115200): Promise<this> {
    this.port = await openFarEnd(path, baudRate, (b) => this.onHostBytes(new Uint8Array(b)));
    return this;
  }

  async stop(): Promise<void> {
    const p = this.port;
    this.port = undefined;
    await closeFarEnd(p);
  }

  /** Bytes from the host. */
  protected abstract onHostBytes(chunk: Uint8Array): void;

  /** The PHY the receiver listens with right now, or undefined when it is not listening. */
  abstract listening(): Phy | undefined;

  /** A packet arrived on matching settings while listening: report it to the host. */
  abstract receive(bytes: Uint8Array): void;

  protected toHost(bytes: Uint8Array | string): void {
    const b = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : Buffer.from(bytes);
    this.port?.write(b);
  }

  protected transmit(phy: Phy, bytes: Uint8Array): void {
    const p = { phy: { ...phy }, bytes: bytes.slice() };
    this.transmitted.push(p);
    this.onAir?.(p);
  }

  /** Payloads of every transmission, hex (assertion helper). */
  sentHex(): string[] {
    return this.transmitted.map((p) => Buffer.from(p.bytes).toString('hex'));
  }
}

/** Splits host bytes into CR/LF-terminated lines (bounded, like a modem's line buffer). */
export class LineBuffer {
  private buf = '';
  constructor(private readonly max = 1024) {}
  push(chunk: Uint8Array): string[] {
    this.buf += Buffer.from(chunk).toString('latin1');
    const parts = this.buf.split(/\r?\n/);
    this.buf = parts.pop()!.slice(-this.max);
    return parts.filter((l) => l.length > 0);
  }
}

/**
 * A device driven by text command lines (RAK3172 AT commands, RN2483 `radio` commands), with the
 * fault knobs tests turn: ignore the next `stallCommands` lines, answer the next (failNext) or
 * every (failAlways) line starting with a prefix with a given status instead of running it.
 */
export abstract class LineCommandDevice extends RadioDevice {
  private readonly lines: LineBuffer;
  stallCommands = 0;
  failNext: { prefix: string; answer: string } | undefined;
  failAlways: { prefix: string; answer: string } | undefined;

  constructor(maxLineBytes: number) {
    super();
    this.lines = new LineBuffer(maxLineBytes);
  }

  /** Answers the host with a status line, in the device's own format. */
  protected abstract reply(status: string): void;

  /** Runs one command line. */
  protected abstract command(line: string): void;

  protected onHostBytes(chunk: Uint8Array): void {
    for (const line of this.lines.push(chunk)) {
      this.commands.push(line);
      if (this.stallCommands > 0) {
        this.stallCommands--;
        continue;
      }
      const fail = this.failNext && line.startsWith(this.failNext.prefix) ? this.failNext : this.failAlways;
      if (fail && line.startsWith(fail.prefix)) {
        if (fail === this.failNext) this.failNext = undefined;
        this.reply(fail.answer);
        continue;
      }
      this.command(line);
    }
  }
}

export const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex').toUpperCase();
