// RAK3172 (RUI3, P2P) and Microchip RN2483 emulators: line-oriented AT/command modems with the
// fault knobs the robustness tests need (reset banner, error answers, stalls, garbage).
import { DeviceEmulator, EmuLines } from './device.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex').toUpperCase();

abstract class LineEmulator extends DeviceEmulator {
  private readonly lines = new EmuLines();
  readonly commands: string[] = [];
  /** Commands to ignore (no answer at all) before answering again. */
  stallCommands = 0;
  /** Answer the next command matching this prefix with this error line. */
  failNext: { prefix: string; answer: string } | undefined;
  /** Answer every command matching this prefix with this error line. */
  failAlways: { prefix: string; answer: string } | undefined;

  protected onBytes(chunk: Uint8Array): void {
    for (const line of this.lines.push(chunk)) {
      this.commands.push(line);
      if (this.stallCommands > 0) {
        this.stallCommands--;
        continue;
      }
      if (this.failNext && line.startsWith(this.failNext.prefix)) {
        const answer = this.failNext.answer;
        this.failNext = undefined;
        this.reply(answer);
        continue;
      }
      if (this.failAlways && line.startsWith(this.failAlways.prefix)) {
        this.reply(this.failAlways.answer);
        continue;
      }
      this.command(line);
    }
  }

  protected reply(line: string): void {
    this.send(line + '\r\n');
  }

  protected abstract command(line: string): void;

  /** Writes a non-UTF-8 line and an overlong line, as a confused modem might. */
  garbage(): void {
    this.send(Uint8Array.of(0xff, 0xfe, 0xc3, 0x28, 0x80, 0x0d, 0x0a));
    this.send('X'.repeat(5000) + '\r\n');
  }
}

export class Rak3172Emulator extends LineEmulator {
  nwm = 1;
  p2p: string | undefined;
  receiving = false;

  protected command(line: string): void {
    const [cmd, arg] = line.split('=', 2) as [string, string | undefined];
    switch (cmd.toUpperCase()) {
      case 'AT':
        return this.reply('OK');
      case 'AT+NWM':
        if (arg === '0' || arg === '1') {
          const changed = Number(arg) !== this.nwm;
          this.nwm = Number(arg);
          this.reply('OK');
          if (changed) this.reset(); // RUI3 restarts to switch the network mode
          return;
        }
        return this.reply('AT_PARAM_ERROR');
      case 'AT+P2P':
        if (this.nwm !== 0) return this.reply('AT_ERROR');
        if (!arg || !/^\d{9}:(5|6|7|8|9|10|11|12):(125|250|500):[0-3]:\d+:\d+$/.test(arg)) return this.reply('AT_PARAM_ERROR');
        this.p2p = arg;
        return this.reply('OK');
      case 'AT+PRECV':
        if (!this.p2p) return this.reply('AT_ERROR');
        this.receiving = arg !== '0';
        return this.reply('OK');
      case 'AT+PSEND': {
        if (!this.p2p || !arg || arg.length % 2 || arg.length > 510 || !/^[0-9A-Fa-f]+$/.test(arg)) return this.reply('AT_PARAM_ERROR');
        if (this.receiving) return this.reply('AT_BUSY_ERROR');
        // Answer and TX-done in one write: the host must not lose the second line.
        this.airTx(new Uint8Array(Buffer.from(arg, 'hex')));
        this.send('OK\r\n+EVT:TXP2P DONE\r\n');
        return;
      }
      default:
        return this.reply('AT_COMMAND_NOT_FOUND');
    }
  }

  receiveFromAir(payload: Uint8Array): void {
    if (this.receiving) this.reply(`+EVT:RXP2P:-72:9:${hex(payload)}`);
    else this.missed++;
  }

  /** Restart: the banner RUI3 prints, and the volatile state is gone. */
  reset(): void {
    this.receiving = false;
    this.p2p = undefined;
    this.send('RAKwireless RAK3172-E Example\r\n------------------------------------------------------\r\nCurrent Work Mode: LoRa P2P.\r\n');
  }
}

export class Rn2483Emulator extends LineEmulator {
  paused = false;
  receiving = false;
  readonly settings = new Map<string, string>();

  protected command(line: string): void {
    const w = line.split(' ');
    if (line === 'sys get ver') return this.reply('RN2483 1.0.5 Oct 31 2018 15:06:52');
    if (line === 'sys reset') return this.reset();
    if (line === 'mac pause') {
      this.paused = true;
      return this.reply('4294967245');
    }
    if (w[0] === 'radio' && w[1] === 'set' && w.length === 4) {
      if (!this.paused) return this.reply('busy');
      const ok: Record<string, RegExp> = {
        mod: /^(lora|fsk)$/,
        freq: /^\d{9}$/,
        sf: /^sf([7-9]|1[0-2])$/,
        bw: /^(125|250|500)$/,
        cr: /^4\/[5-8]$/,
        pwr: /^-?\d{1,2}$/,
        prlen: /^\d+$/,
        crc: /^(on|off)$/,
        wdt: /^\d+$/,
      };
      if (!ok[w[2]]?.test(w[3])) return this.reply('invalid_param');
      this.settings.set(w[2], w[3]);
      return this.reply('ok');
    }
    if (line === 'radio rx 0') {
      if (!this.paused || this.receiving) return this.reply('busy');
      this.receiving = true;
      return this.reply('ok');
    }
    if (line === 'radio rxstop') {
      this.receiving = false;
      return this.reply('ok');
    }
    if (w[0] === 'radio' && w[1] === 'tx' && w.length === 3) {
      const h = w[2];
      if (!this.paused || this.receiving) return this.reply('busy');
      if (h.length % 2 || h.length > 510 || !/^[0-9A-Fa-f]+$/.test(h)) return this.reply('invalid_param');
      // The module answers at once and reports the end of the transmission an airtime later.
      this.reply('ok');
      setTimeout(() => {
        this.airTx(new Uint8Array(Buffer.from(h, 'hex')));
        this.reply('radio_tx_ok');
      }, 20);
      return;
    }
    this.reply('invalid_param');
  }

  receiveFromAir(payload: Uint8Array): void {
    if (!this.receiving) {
      this.missed++;
      return;
    }
    this.receiving = false; // one packet per `radio rx`
    this.reply(`radio_rx  ${hex(payload)}`);
  }

  reset(): void {
    this.paused = false;
    this.receiving = false;
    this.settings.clear();
    this.reply('RN2483 1.0.5 Oct 31 2018 15:06:52');
  }
}
