// RNode emulator, written from markqvist/RNode_Firmware (Framing.h, Config.h,
// RNode_Firmware.ino, Utilities.h, sx127x.cpp, sx126x.cpp) and checked against Reticulum's
// RNS/Interfaces/RNodeInterface.py. Imports nothing from src/.
import { RadioDevice, type Phy } from './device.js';

// Framing.h
const FEND = 0xc0;
const FESC = 0xdb;
const TFEND = 0xdc;
const TFESC = 0xdd;
export const CMD = {
  DATA: 0x00,
  FREQUENCY: 0x01,
  BANDWIDTH: 0x02,
  TXPOWER: 0x03,
  SF: 0x04,
  CR: 0x05,
  RADIO_STATE: 0x06,
  RADIO_LOCK: 0x07,
  DETECT: 0x08,
  IMPLICIT: 0x09,
  LEAVE: 0x0a,
  READY: 0x0f,
  STAT_RX: 0x21,
  STAT_TX: 0x22,
  STAT_RSSI: 0x23,
  STAT_SNR: 0x24,
  STAT_PHYPRM: 0x26,
  BOARD: 0x47,
  PLATFORM: 0x48,
  MCU: 0x49,
  FW_VERSION: 0x50,
  RESET: 0x55,
  ERROR: 0x90,
} as const;
export const RESET_BYTE = 0xf8; // Framing.h CMD_RESET_BYTE
export const DETECT_REQ = 0x73;
export const DETECT_RESP = 0x46;
export const ERR = {
  INITRADIO: 0x01,
  TXFAILED: 0x02,
  EEPROM_LOCKED: 0x03,
  QUEUE_FULL: 0x04,
  MEMORY_LOW: 0x05,
  MODEM_TIMEOUT: 0x06,
} as const;
const FLAG_SPLIT = 0x01; // Framing.h
const SEQ_UNSET = 0xff;
// Config.h
const SINGLE_MTU = 255;
const HEADER_L = 1;
const MTU = 508;
const CMD_L = 64;
const LORA_PREAMBLE_SYMBOLS_MIN = 18;
const LORA_PREAMBLE_TARGET_MS = 24;
const LORA_PREAMBLE_FAST_DELTA = 18;
const LORA_FAST_THRESHOLD_BPS = 30e3;

export type RNodeChip = 'sx1276' | 'sx1262';

export interface RNodeOptions {
  chip?: RNodeChip;
  /** ROM.h MAJ_VERS / MIN_VERS of the firmware (1.86 at the time of writing: 0x01 0x56). */
  version?: [number, number];
  /** Config.h / Boards.h PLATFORM: 0x80 ESP32, 0x70 NRF52, 0x90 AVR. */
  platform?: number;
  mcu?: number;
  board?: number;
}

/** KISS escape of one frame (Utilities.h escaped_serial_write). */
export function kissFrame(cmd: number, data: Uint8Array | number[] = []): Uint8Array {
  const out = [FEND, cmd];
  for (const b of data) {
    if (b === FEND) out.push(FESC, TFEND);
    else if (b === FESC) out.push(FESC, TFESC);
    else out.push(b);
  }
  out.push(FEND);
  return Uint8Array.from(out);
}

/** Host-side KISS reader for tests (mirrors RNodeInterface.py readLoop). */
export function kissFrames(bytes: Uint8Array): { cmd: number; data: number[] }[] {
  const out: { cmd: number; data: number[] }[] = [];
  let cur: number[] | undefined;
  let esc = false;
  for (const b of bytes) {
    if (b === FEND) {
      if (cur && cur.length) out.push({ cmd: cur[0], data: cur.slice(1) });
      cur = [];
      continue;
    }
    if (!cur) continue;
    if (b === FESC) {
      esc = true;
      continue;
    }
    cur.push(esc ? (b === TFEND ? FEND : b === TFESC ? FESC : b) : b);
    esc = false;
  }
  return out;
}

/** sx127x.cpp setFrequency/getFrequency: frf = (f << 19) / 32 MHz truncated, read back the same way. */
export function sx127xReadBack(f: number): number {
  const frf = (BigInt(f) << 19n) / 32_000_000n;
  return Number((frf * 32_000_000n) >> 19n);
}

/** Utilities.h updateBitrate: preamble symbols from the symbol time. */
export function rnodePreambleSymbols(sf: number, bw: number, cr: number): number {
  const symMs = (2 ** sf / bw) * 1000;
  const bitrate = sf * (4 / cr / (2 ** sf / (bw / 1000))) * 1000;
  const target = LORA_PREAMBLE_TARGET_MS - (bitrate > LORA_FAST_THRESHOLD_BPS ? LORA_PREAMBLE_FAST_DELTA : 0);
  const symbols = target / symMs;
  return symbols < LORA_PREAMBLE_SYMBOLS_MIN ? LORA_PREAMBLE_SYMBOLS_MIN : Math.ceil(symbols);
}

/** sx127x.cpp / sx126x.cpp handleLowDataRate: long(2^SF / (BW/1000)) > 16 (integer truncation). */
export function rnodeLowDataRate(sf: number, bw: number): boolean {
  return Math.trunc(2 ** sf / (bw / 1000)) > 16;
}

/** sx127x.cpp getSignalBandwidth after setSignalBandwidth: the register's table value. */
function sx127xBandwidth(bw: number): number {
  const table = [7.8e3, 10.4e3, 15.6e3, 20.8e3, 31.25e3, 41.7e3, 62.5e3, 125e3, 250e3, 500e3];
  return table.find((t) => bw <= t) ?? 500e3;
}

export class RNodeEmulator extends RadioDevice {
  readonly chip: RNodeChip;
  private readonly opts: Required<RNodeOptions>;
  // Config.h defaults: lora_freq 0, lora_bw 0, lora_txp 0xFF, lora_sf 0, lora_cr 5.
  freq = 0;
  bw = 0;
  txp = 0xff;
  sf = 0;
  cr = 5;
  radioOnline = false;
  /** Data frames that went out (host view), for the flow-control tests. */
  readonly hostFrames: number[][] = [];
  /** Make the next transmission fail in LoRa->endPacket() (modem timeout). */
  failNextTx = false;
  /** Fault knob: a board that applies another spreading factor than asked (reports it honestly). */
  forceSf: number | undefined;
  /** Fault knob: commands this (older or custom) firmware does not answer. */
  readonly ignore = new Set<number>();
  // serial_callback state
  private inFrame = false;
  private escape = false;
  private command = 0xfe;
  private buf: number[] = [];
  private seq = SEQ_UNSET;
  private split: number[] = [];

  constructor(o: RNodeOptions = {}) {
    super();
    this.chip = o.chip ?? 'sx1276';
    this.opts = {
      chip: this.chip,
      version: o.version ?? [0x01, 0x56],
      platform: o.platform ?? 0x80,
      mcu: o.mcu ?? 0x81,
      board: o.board ?? 0x44,
    };
  }

  private reply(cmd: number, data: number[] = []): void {
    this.toHost(kissFrame(cmd, data));
  }

  private u32(v: number): number[] {
    return [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
  }

  /** RNode_Firmware.ino serial_callback, one byte at a time. */
  protected onHostBytes(chunk: Uint8Array): void {
    for (const sbyte of chunk) this.serialByte(sbyte);
  }

  private serialByte(b: number): void {
    if (this.inFrame && b === FEND && this.command === CMD.DATA) {
      this.inFrame = false;
      if (this.buf.length >= 1) this.queueAndTransmit(this.buf);
      this.buf = [];
      return;
    }
    if (b === FEND) {
      if (this.inFrame && this.command !== 0xfe) this.commands.push(`0x${this.command.toString(16)}`);
      this.inFrame = true;
      this.command = 0xfe;
      this.buf = [];
      return;
    }
    if (!this.inFrame || this.buf.length >= MTU) return;
    if (this.command === 0xfe) {
      this.command = b;
      return;
    }
    if (b === FESC) {
      this.escape = true;
      return;
    }
    if (this.escape) {
      b = b === TFEND ? FEND : b === TFESC ? FESC : b;
      this.escape = false;
    }
    if (this.command === CMD.DATA) {
      this.buf.push(b);
      return;
    }
    if (this.buf.length < CMD_L) this.buf.push(b);
    this.commandByte(this.command, this.buf);
  }

  private commandByte(cmd: number, buf: number[]): void {
    const v = buf[buf.length - 1];
    if (this.ignore.has(cmd)) return;
    switch (cmd) {
      case CMD.FREQUENCY:
        if (buf.length === 4) {
          const f = ((buf[0] << 24) | (buf[1] << 16) | (buf[2] << 8) | buf[3]) >>> 0;
          // freq == 0 is a query; otherwise lora_freq = freq; setFrequency() (which, when the
          // radio is online, writes the chip and reads the value back: getFrequency()).
          if (f !== 0) {
            this.freq = f;
            if (this.radioOnline) this.freq = this.readBackFrequency(f);
          }
          this.reply(CMD.FREQUENCY, this.u32(this.freq));
        }
        return;
      case CMD.BANDWIDTH:
        if (buf.length === 4) {
          const bw = ((buf[0] << 24) | (buf[1] << 16) | (buf[2] << 8) | buf[3]) >>> 0;
          if (bw !== 0) {
            this.bw = bw;
            if (this.radioOnline) {
              this.bw = sx127xBandwidth(bw); // setBandwidth -> getBandwidth -> updateBitrate
              this.phyStats();
            }
          }
          this.reply(CMD.BANDWIDTH, this.u32(this.bw));
        }
        return;
      case CMD.TXPOWER:
        if (v === 0xff) return this.reply(CMD.TXPOWER, [this.txp]); // query
        // The byte is unsigned; the firmware caps it per modem: SX1262 22 dBm (or PA_MAX_OUTPUT),
        // SX1280 13/20, SX127x 17.
        this.txp = Math.min(v, this.chip === 'sx1262' ? 22 : 17);
        return this.reply(CMD.TXPOWER, [this.txp]);
      case CMD.SF:
        if (v !== 0xff) {
          this.sf = this.forceSf ?? Math.min(12, Math.max(5, v));
          if (this.radioOnline) this.phyStats(); // setSpreadingFactor -> updateBitrate -> setPreamble
        }
        return this.reply(CMD.SF, [this.sf]);
      case CMD.CR:
        if (v !== 0xff) this.cr = Math.min(8, Math.max(5, v));
        return this.reply(CMD.CR, [this.cr]);
      case CMD.RADIO_STATE:
        if (v === 0x00)
          this.radioOnline = false; // stopRadio()
        else if (v === 0x01) this.startRadio();
        return this.reply(CMD.RADIO_STATE, [this.radioOnline ? 1 : 0]);
      case CMD.RADIO_LOCK:
        return this.reply(CMD.RADIO_LOCK, [this.radioLocked() ? 1 : 0]);
      case CMD.DETECT:
        if (v === DETECT_REQ) this.reply(CMD.DETECT, [DETECT_RESP]);
        return;
      case CMD.READY:
        return this.reply(CMD.READY, [0x01]); // kiss_indicate_ready: queue not full
      case CMD.FW_VERSION:
        return this.reply(CMD.FW_VERSION, this.opts.version);
      case CMD.PLATFORM:
        return this.reply(CMD.PLATFORM, [this.opts.platform]);
      case CMD.MCU:
        return this.reply(CMD.MCU, [this.opts.mcu]);
      case CMD.BOARD:
        return this.reply(CMD.BOARD, [this.opts.board]);
      case CMD.STAT_RX:
      case CMD.STAT_TX:
        return this.reply(cmd, [0, 0, 0, 0]); // stat_rx/stat_tx (never incremented by the firmware)
      case CMD.RESET:
        if (v === RESET_BYTE) this.reboot(); // hard_reset()
        return;
      default:
        return;
    }
  }

  private readBackFrequency(f: number): number {
    // sx126x.cpp getFrequency: "We can't read the frequency on the sx1262": returns what was set.
    return this.chip === 'sx1276' ? sx127xReadBack(f) : f;
  }

  /** RNode_Firmware.ino update_radio_lock: locked unless freq, bw, txp (!= 0xFF) and sf are set. */
  private radioLocked(): boolean {
    return !(this.freq !== 0 && this.bw !== 0 && this.txp !== 0xff && this.sf !== 0);
  }

  /** RNode_Firmware.ino startRadio. */
  private startRadio(): void {
    if (this.radioOnline) return this.reply(CMD.RADIO_STATE, [1]); // "silently ignore": indicate state
    if (this.radioLocked()) return this.reply(CMD.RADIO_STATE, [0]);
    this.radioOnline = true;
    // setTXPower(); setBandwidth(); setSpreadingFactor(); setCodingRate(); getFrequency();
    this.bw = sx127xBandwidth(this.bw);
    this.phyStats();
    this.phyStats();
    this.freq = this.readBackFrequency(this.freq);
    this.reply(CMD.RADIO_STATE, [1]); // kiss_indicate_radiostate() inside startRadio
  }

  /** Utilities.h kiss_indicate_phy_stats (sent by setPreamble on every bitrate update). */
  private phyStats(): void {
    const symUs = Math.trunc((2 ** this.sf / this.bw) * 1e6);
    const pre = rnodePreambleSymbols(this.sf, this.bw, this.cr);
    const u16 = (x: number) => [(x >> 8) & 0xff, x & 0xff];
    this.reply(CMD.STAT_PHYPRM, [
      ...u16(symUs),
      ...u16(Math.trunc(this.bw / 2 ** this.sf)),
      ...u16(pre),
      ...u16(Math.ceil((pre * symUs) / 1000)),
      0,
      24,
      0,
      58,
    ]);
  }

  /** The PHY the firmware programs: sync word 0x12 / 0x1424 (SYNC_WORD_7X/6X), CRC on, explicit header, normal IQ. */
  phy(): Phy {
    return {
      frequencyHz: this.freq,
      sf: this.sf,
      bandwidthHz: this.bw,
      codingRate: this.cr,
      syncWord: 0x12,
      preambleSymbols: rnodePreambleSymbols(this.sf, this.bw, this.cr),
      crc: true,
      explicitHeader: true,
      invertIq: false,
      lowDataRateOptimize: rnodeLowDataRate(this.sf, this.bw),
    };
  }

  listening(): Phy | undefined {
    return this.radioOnline ? this.phy() : undefined;
  }

  /** RNode_Firmware.ino transmit(): 1-byte header (random sequence nibble, split flag), split at 255 on air. */
  private queueAndTransmit(data: number[]): void {
    this.hostFrames.push(data.slice());
    if (!this.radioOnline) {
      this.reply(CMD.ERROR, [ERR.TXFAILED]); // transmit(): "else { kiss_indicate_error(ERROR_TXFAILED) }"
      return;
    }
    if (this.failNextTx) {
      // !LoRa->endPacket(): ERROR_MODEM_TIMEOUT, ERROR_TXFAILED, then hard_reset().
      this.failNextTx = false;
      this.reply(CMD.ERROR, [ERR.MODEM_TIMEOUT]);
      this.reply(CMD.ERROR, [ERR.TXFAILED]);
      this.reboot();
      return;
    }
    let header = Math.floor(Math.random() * 256) & 0xf0;
    if (data.length > SINGLE_MTU - HEADER_L) header |= FLAG_SPLIT;
    const first = data.slice(0, SINGLE_MTU - HEADER_L);
    this.transmit(this.phy(), Uint8Array.from([header, ...first]));
    if (data.length > first.length) this.transmit(this.phy(), Uint8Array.from([header, ...data.slice(first.length)]));
  }

  /** RNode_Firmware.ino receive_callback (non-promiscuous): strip the header, join split packets. */
  receive(bytes: Uint8Array): void {
    if (bytes.length < 1) return;
    const header = bytes[0];
    const sequence = header >> 4;
    const body = [...bytes.subarray(1)];
    if (header & FLAG_SPLIT) {
      if (this.seq === SEQ_UNSET || this.seq !== sequence) {
        this.seq = sequence;
        this.split = body;
        return;
      }
      this.seq = SEQ_UNSET;
      this.deliverToHost([...this.split, ...body]);
      return;
    }
    this.seq = SEQ_UNSET;
    this.deliverToHost(body);
  }

  private deliverToHost(data: number[]): void {
    // kiss_indicate_stat_rssi(); kiss_indicate_stat_snr(); kiss_write_packet();
    this.reply(CMD.STAT_RSSI, [157 - 80]);
    this.reply(CMD.STAT_SNR, [36]);
    this.reply(CMD.DATA, data);
  }

  /** The firmware reports an error outside any command (e.g. ERROR_MEMORY_LOW from the main loop). */
  reportError(code: number): void {
    this.reply(CMD.ERROR, [code]);
  }

  /** A reboot (ESP.restart, brown-out, watchdog): volatile state gone, then setup() announces CMD_RESET 0xF8. */
  reboot(): void {
    this.freq = 0;
    this.bw = 0;
    this.txp = 0xff;
    this.sf = 0;
    this.cr = 5;
    this.radioOnline = false;
    this.seq = SEQ_UNSET;
    this.inFrame = false;
    this.reply(CMD.RESET, [RESET_BYTE]); // setup(): kiss_indicate_reset()
  }
}
