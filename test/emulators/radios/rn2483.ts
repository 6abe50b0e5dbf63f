// Microchip RN2483 (RN2903 for US915), written from the "RN2483 LoRa Technology Module Command
// Reference User's Guide" (DS40001784): 2.3 system commands (sys get ver, sys reset),
// 2.4 mac pause, 2.5 radio commands (radio set/get mod, freq, sf, bw, cr, pwr, prlen, crc, iqi,
// sync, wdt; radio tx; radio rx; radio rxstop) and their responses. Imports nothing from src/.
import { hexOf, LineCommandDevice, type Phy } from './device.js';

export class Rn2483Emulator extends LineCommandDevice {
  readonly model: 'RN2483' | 'RN2903';
  /** `mac pause` result: radio commands answer `busy` while the LoRaWAN stack runs. */
  paused = false;
  receiving = false;
  transmitting = false;
  // Power-on defaults (2.5.x "Default:" lines): sf12, bw 125, cr 4/5, prlen 8, crc on, iqi off, sync 34.
  readonly settings = new Map<string, string>();

  constructor(model: 'RN2483' | 'RN2903' = 'RN2483') {
    super(600);
    this.model = model;
    this.defaults();
  }

  private defaults(): void {
    this.settings.clear();
    const f = this.model === 'RN2483' ? '868100000' : '923300000';
    for (const [k, v] of Object.entries({
      mod: 'lora',
      freq: f,
      sf: 'sf12',
      bw: '125',
      cr: '4/5',
      pwr: '1',
      prlen: '8',
      crc: 'on',
      iqi: 'off',
      sync: '34',
      wdt: '15000',
    })) {
      this.settings.set(k, v);
    }
  }

  get banner(): string {
    return `${this.model} 1.0.5 Oct 31 2018 15:06:52`;
  }

  protected reply(l: string): void {
    this.toHost(l + '\r\n');
  }

  /** Ranges from 2.5.4 `radio set`: freq 433050000-434790000 / 863000000-870000000 (RN2483), 902000000-928000000 (RN2903). */
  private valid(p: string, v: string): boolean {
    const n = Number(v);
    switch (p) {
      case 'mod':
        return v === 'lora' || v === 'fsk';
      case 'freq':
        if (!/^\d{9}$/.test(v)) return false;
        return this.model === 'RN2483'
          ? (n >= 433_050_000 && n <= 434_790_000) || (n >= 863_000_000 && n <= 870_000_000)
          : n >= 902_000_000 && n <= 928_000_000;
      case 'sf':
        return /^sf([7-9]|1[0-2])$/.test(v);
      case 'bw':
        return ['125', '250', '500'].includes(v);
      case 'cr':
        return /^4\/[5-8]$/.test(v);
      case 'pwr':
        return /^-?\d{1,2}$/.test(v) && (this.model === 'RN2483' ? n >= -3 && n <= 15 : n >= 2 && n <= 20);
      case 'prlen':
        return /^\d{1,5}$/.test(v) && n <= 65535;
      case 'crc':
      case 'iqi':
        return v === 'on' || v === 'off';
      case 'sync':
        return /^[0-9A-Fa-f]{1,2}$/.test(v); // one byte in LoRa mode
      case 'wdt':
        return /^\d{1,10}$/.test(v) && n <= 4294967295;
      default:
        return false;
    }
  }

  protected command(line: string): void {
    const w = line.split(' ');
    if (line === 'sys get ver') return this.reply(this.banner);
    if (line === 'sys reset') return this.reset();
    if (line === 'mac pause') {
      this.paused = true;
      return this.reply('4294967245'); // milliseconds the stack stays paused
    }
    if (line === 'mac resume') {
      this.paused = false;
      return this.reply('ok');
    }
    if (w[0] === 'radio' && w[1] === 'get' && w.length === 3) {
      if (w[2] === 'snr') return this.reply('9');
      const v = this.settings.get(w[2]);
      return this.reply(v ?? 'invalid_param');
    }
    if (w[0] === 'radio' && w[1] === 'set' && w.length === 4) {
      if (!this.valid(w[2], w[3])) return this.reply('invalid_param');
      if (!this.paused) return this.reply('busy'); // LoRaWAN stack active: "mac pause" first
      this.settings.set(w[2], w[3].toLowerCase());
      return this.reply('ok');
    }
    if (w[0] === 'radio' && w[1] === 'rx' && w.length === 3) {
      if (!/^\d+$/.test(w[2])) return this.reply('invalid_param');
      if (!this.paused || this.receiving || this.transmitting) return this.reply('busy');
      this.receiving = true; // rxWindowSize 0: continuous reception until a packet or rxstop
      return this.reply('ok');
    }
    if (line === 'radio rxstop') {
      this.receiving = false;
      return this.reply('ok');
    }
    if (w[0] === 'radio' && w[1] === 'tx' && w.length === 3) {
      const h = w[2];
      // <data>: 0-255 bytes of hex for LoRa.
      if (h.length % 2 || h.length > 510 || !/^[0-9A-Fa-f]*$/.test(h)) return this.reply('invalid_param');
      if (!this.paused || this.receiving || this.transmitting) return this.reply('busy');
      // First response `ok` at once; second `radio_tx_ok` after the transmission.
      this.reply('ok');
      this.transmitting = true;
      setTimeout(() => {
        this.transmitting = false;
        this.transmit(this.phy(), new Uint8Array(Buffer.from(h, 'hex')));
        this.reply('radio_tx_ok');
      }, 15);
      return;
    }
    this.reply('invalid_param');
  }

  phy(): Phy {
    const s = (k: string) => this.settings.get(k)!;
    const sf = Number(s('sf').slice(2));
    const bw = Number(s('bw')) * 1000;
    return {
      frequencyHz: Number(s('freq')),
      sf,
      bandwidthHz: bw,
      codingRate: Number(s('cr').slice(2)),
      syncWord: parseInt(s('sync'), 16),
      preambleSymbols: Number(s('prlen')),
      crc: s('crc') === 'on',
      explicitHeader: true,
      invertIq: s('iqi') === 'on',
      // No command sets it: the module applies Semtech's rule (symbol time above 16 ms).
      lowDataRateOptimize: 2 ** sf / bw > 0.016,
    };
  }

  listening(): Phy | undefined {
    return this.receiving ? this.phy() : undefined;
  }

  receive(bytes: Uint8Array): void {
    this.receiving = false; // one packet per `radio rx`
    this.reply(`radio_rx  ${hexOf(bytes)}`); // two spaces (2.5.3.x response format)
  }

  /** `sys reset` or a brown-out: the version banner, LoRaWAN stack running again, radio defaults. */
  reset(): void {
    this.paused = false;
    this.receiving = false;
    this.defaults();
    this.reply(this.banner);
  }
}
