// RAK3172 (STM32WLE5, RUI3 firmware) in LoRa P2P mode, written from RAKwireless' RUI3 AT Command
// Manual (sections "AT Command Format", "P2P Mode": AT+NWM, AT+P2P, AT+SYNCWORD, AT+IQINVER,
// AT+PSEND, AT+PRECV; "Appendix: Asynchronous Events") and the RAK3172 module manual. Radio
// behaviour (low-data-rate optimisation) follows LoRaMac-node's sx126x radio.c, which RUI3 uses.
// Imports nothing from src/.
import { hexOf, LineCommandDevice, syncWordFrom126x, type Phy } from './device.js';

export class Rak3172Emulator extends LineCommandDevice {
  /** AT+NWM: 1 LoRaWAN (factory default), 0 P2P. */
  nwm = 1;
  p2p = { freq: 868_000_000, sf: 7, bwKhz: 125, cr: 0, preamble: 8, power: 14 };
  /** AT+SYNCWORD, SX126x two-byte form (0x3444 = the public word 0x34); a host must set the word it wants. */
  syncWord = 0x3444;
  iqInverted = false;
  /** AT+PRECV state: 0 off, 65534 continuous, 65535 until one packet, else a window in ms. */
  precv = 0;
  version = 'RUI_4.0.6_RAK3172-E';

  constructor() {
    super(1024);
  }

  /** "Every command (except ATZ) returns a status string ... in a <CR><LF><Status><CR><LF> format." */
  protected reply(status: string, value?: string): void {
    this.toHost((value !== undefined ? `${value}\r\n` : '') + `\r\n${status}\r\n`);
  }

  protected command(line: string): void {
    const eq = line.indexOf('=');
    const cmd = (eq < 0 ? line : line.slice(0, eq)).toUpperCase();
    const arg = eq < 0 ? undefined : line.slice(eq + 1);
    const query = arg === '?';
    switch (cmd) {
      case 'AT':
        return this.reply('OK');
      case 'ATZ':
        return this.reset(); // "No return. MCU resets."
      case 'AT+VER':
        return query ? this.reply('OK', this.version) : this.reply('AT_PARAM_ERROR');
      case 'AT+NWM': {
        if (query) return this.reply('OK', String(this.nwm));
        if (arg !== '0' && arg !== '1') return this.reply('AT_PARAM_ERROR');
        const changed = Number(arg) !== this.nwm;
        this.nwm = Number(arg);
        this.reply('OK');
        if (changed) this.reset(); // switching the work mode restarts the module (manual, AT+NWM example)
        return;
      }
      case 'AT+P2P': {
        if (this.nwm !== 0) return this.reply('AT_ERROR');
        const p = this.p2p;
        if (query) return this.reply('OK', `${p.freq}:${p.sf}:${p.bwKhz}:${p.cr}:${p.preamble}:${p.power}`);
        // <Freq>:<SF>:<Bandwidth>:<CR>:<Preamble>:<Power>; SF 5-12, BW 125/250/500, CR 0-3,
        // preamble 2-65535, power 5-22 dBm; RAK3172(H) 525-960 MHz, (L) 150-525 MHz.
        const m = /^(\d+):(\d+):(\d+):(\d):(\d+):(\d+)$/.exec(arg ?? '');
        if (!m) return this.reply('AT_PARAM_ERROR');
        const [freq, sf, bw, cr, pre, pwr] = m.slice(1).map(Number);
        if (
          freq < 150_000_000 ||
          freq > 960_000_000 ||
          sf < 5 ||
          sf > 12 ||
          ![125, 250, 500].includes(bw) ||
          cr > 3 ||
          pre < 2 ||
          pre > 65535 ||
          pwr < 5 ||
          pwr > 22
        ) {
          return this.reply('AT_PARAM_ERROR');
        }
        this.p2p = { freq, sf, bwKhz: bw, cr, preamble: pre, power: pwr };
        return this.reply('OK');
      }
      case 'AT+SYNCWORD':
        if (this.nwm !== 0) return this.reply('AT_ERROR');
        if (query) return this.reply('OK', this.syncWord.toString(16).toUpperCase().padStart(4, '0'));
        if (!/^[0-9A-Fa-f]{4}$/.test(arg ?? '')) return this.reply('AT_PARAM_ERROR');
        this.syncWord = parseInt(arg!, 16);
        return this.reply('OK');
      case 'AT+IQINVER':
        if (this.nwm !== 0) return this.reply('AT_ERROR');
        if (query) return this.reply('OK', this.iqInverted ? '1' : '0');
        if (arg !== '0' && arg !== '1') return this.reply('AT_PARAM_ERROR');
        this.iqInverted = arg === '1';
        return this.reply('OK');
      case 'AT+PRECV': {
        if (this.nwm !== 0) return this.reply('AT_ERROR');
        if (query) return this.reply('OK', String(this.precv));
        const v = Number(arg);
        if (!/^\d+$/.test(arg ?? '') || v > 65535) return this.reply('AT_PARAM_ERROR');
        this.precv = v;
        return this.reply('OK');
      }
      case 'AT+PSEND': {
        if (this.nwm !== 0) return this.reply('AT_ERROR');
        // <payload>: 2~500 digits, an even number of hex characters (1~250 bytes).
        const h = arg ?? '';
        if (h.length < 2 || h.length > 500 || h.length % 2 || !/^[0-9A-Fa-f]+$/.test(h)) return this.reply('AT_PARAM_ERROR');
        // Continuous receive (65534) keeps the radio busy: "If the value is 0, ... The device is in TX mode."
        if (this.precv === 65534) return this.reply('AT_BUSY_ERROR');
        this.transmit(this.phy(), new Uint8Array(Buffer.from(h, 'hex')));
        // Status, then the asynchronous TX-done event; one write (the host must not lose the second line).
        this.toHost('\r\nOK\r\n+EVT:TXP2P DONE\r\n');
        return;
      }
      default:
        return this.reply('AT_COMMAND_NOT_FOUND');
    }
  }

  /** The radio as programmed; LDRO as LoRaMac-node radio.c: SF11/SF12 at 125 kHz, SF12 at 250 kHz. */
  phy(): Phy {
    const p = this.p2p;
    const bw = p.bwKhz * 1000;
    return {
      frequencyHz: p.freq,
      sf: p.sf,
      bandwidthHz: bw,
      codingRate: p.cr + 5,
      syncWord: syncWordFrom126x(this.syncWord),
      preambleSymbols: p.preamble,
      crc: true,
      explicitHeader: true,
      invertIq: this.iqInverted,
      lowDataRateOptimize: (bw === 125_000 && p.sf >= 11) || (bw === 250_000 && p.sf === 12),
    };
  }

  listening(): Phy | undefined {
    return this.nwm === 0 && this.precv !== 0 ? this.phy() : undefined;
  }

  receive(bytes: Uint8Array): void {
    // RUI3 4.x event: +EVT:RXP2P:<RSSI>:<SNR>:<payload hex>
    this.toHost(`+EVT:RXP2P:-72:9:${hexOf(bytes)}\r\n`);
    if (this.precv === 65535) this.precv = 0; // "stop listening once a P2P LoRa packet is received"
  }

  /** A restart (ATZ, mode switch, brown-out): the banner, and receive is off again. */
  reset(): void {
    this.precv = 0;
    this.toHost(
      `RAKwireless RAK3172-E Example\r\n------------------------------------------------------\r\nVersion: ${this.version}\r\nCurrent Work Mode: ${this.nwm === 0 ? 'LoRa P2P' : 'LoRaWAN'}.\r\n`,
    );
  }

  /** A confused modem: a non-UTF-8 line and an overlong one. */
  garbage(): void {
    this.toHost(Uint8Array.of(0xff, 0xfe, 0xc3, 0x28, 0x80, 0x0d, 0x0a));
    this.toHost('X'.repeat(5000) + '\r\n');
  }
}
