// Microchip RN2483 (433/868 MHz) and RN2903 (915 MHz): the LoRaWAN stack is paused
// (`mac pause`) and the raw `radio` commands are used (RN2483 Command Reference DS40001784,
// 2.4 mac, 2.5 radio). Frames carry the RNode 1-byte header on air (lora/onair.ts), and the
// sync word, preamble, CRC and IQ follow the region's on-air profile, so RNodes and RAK3172s on
// the same profile hear us.
//   radio set ...        -> ok | invalid_param
//   radio rx 0           -> ok, later `radio_rx  <hex>` or `radio_err`
//   radio rxstop         -> ok
//   radio tx <hex>       -> ok, later `radio_tx_ok` or `radio_err`
import { parseModemHex, toModemHex, type LoraRadioSettings, type LoraTransportOptions } from './common.js';
import { LineModemLoraTransport } from './line-modem.js';
import { RNODE_SINGLE_PAYLOAD, stripRnodeHeader, withRnodeHeader } from './onair.js';
import type { Expectation } from '../radio/lines.js';
import type { DeviceInfo, RadioDeps } from '../radio/transport.js';

const RN_ERROR = /^(invalid_param|busy|radio_err|err\b|invalid_)/;
const RN_BANNER = /^RN2(483|903) \d/;

export function rn2483SetupCommands(s: LoraRadioSettings): string[] {
  return [
    'radio set mod lora',
    `radio set freq ${s.frequencyHz}`,
    `radio set sf sf${s.sf}`,
    `radio set bw ${s.bandwidthHz / 1000}`,
    `radio set cr 4/${s.codingRate}`,
    `radio set pwr ${s.txPowerDbm}`,
    `radio set prlen ${s.preambleSymbols}`,
    `radio set crc ${s.crc ? 'on' : 'off'}`,
    `radio set iqi ${s.invertIq ? 'on' : 'off'}`,
    ...(s.syncWord !== undefined ? [`radio set sync ${s.syncWord.toString(16).padStart(2, '0')}`] : []),
    'radio set wdt 0',
  ];
}

export class Rn2483Transport extends LineModemLoraTransport {
  private listening = false;
  private version: string | undefined;

  constructor(o: LoraTransportOptions, deps: RadioDeps) {
    super(o, deps, RNODE_SINGLE_PAYLOAD, 600);
  }

  private ok(): Expectation {
    return { ok: (l) => l === 'ok', error: (l) => RN_ERROR.test(l), timeoutMs: this.timeoutMs };
  }

  protected initialize(): Promise<void> {
    return this.seq.run(async () => {
      this.modem.reset();
      this.listening = false;
      const ver = await this.modem.command('sys get ver', { ok: (l) => /^RN2(483|903)\b/.test(l), timeoutMs: this.timeoutMs });
      this.version = ver;
      this.log.info('modem', { version: ver });
      await this.modem.command('mac pause', { ok: (l) => /^\d+$/.test(l), error: (l) => RN_ERROR.test(l), timeoutMs: this.timeoutMs });
      for (const cmd of rn2483SetupCommands(this.settings)) await this.modem.command(cmd, this.ok());
      await this.armReceive();
    });
  }

  /** `radio get <param>` for each setting (Command Reference 2.5.5); receive is stopped meanwhile. */
  override deviceInfo(): Promise<DeviceInfo> {
    return this.seq.run(async () => {
      if (this.listening) {
        await this.modem.command('radio rxstop', this.ok());
        this.listening = false;
      }
      const readBack: Record<string, string | number> = {};
      try {
        for (const p of ['mod', 'freq', 'sf', 'bw', 'cr', 'prlen', 'crc', 'iqi', 'sync', 'pwr']) {
          readBack[p] = await this.modem.command(`radio get ${p}`, {
            ok: (l) => l.length > 0 && !RN_ERROR.test(l),
            error: (l) => RN_ERROR.test(l),
            timeoutMs: this.timeoutMs,
          });
        }
      } finally {
        await this.armReceive();
      }
      return { firmware: this.version, readBack };
    });
  }

  private async armReceive(): Promise<void> {
    await this.modem.command('radio rx 0', this.ok());
    this.listening = true;
  }

  protected transmit(frame: Uint8Array): Promise<void> {
    return this.seq.run(async () => {
      if (this.listening) {
        await this.modem.command('radio rxstop', this.ok());
        this.listening = false;
      }
      // `ok` and `radio_tx_ok` may arrive in one read: wait for both as one exchange.
      await this.modem.command(`radio tx ${toModemHex(withRnodeHeader(frame))}`, {
        ...this.ok(),
        then: {
          label: 'radio_tx_ok',
          ok: (l) => l === 'radio_tx_ok',
          error: (l) => l === 'radio_err',
          timeoutMs: this.airtime(frame.length) + this.timeoutMs,
        },
      });
      await this.armReceive();
    });
  }

  private rearm(): void {
    this.listening = false;
    this.seq
      .run(async () => {
        if (!this.listening && this.state === 'up') await this.armReceive();
      })
      .catch((err: Error) => this.fault(err));
  }

  protected unsolicited(line: string): void {
    if (line.startsWith('radio_rx ')) {
      const payload = parseModemHex(line.slice('radio_rx '.length).trim());
      const r = payload ? stripRnodeHeader(payload) : undefined;
      if (!r) this.malformed('rn-rx-bad-hex', line.slice(0, 80));
      else if ('error' in r) this.malformed(r.error, line.slice(0, 80));
      else this.deliver(r.frame);
      this.rearm();
      return;
    }
    if (line === 'radio_err') {
      // Receive watchdog or CRC error: listen again.
      this.counters.inc('rn_rx_errors');
      this.rearm();
      return;
    }
    if (RN_BANNER.test(line)) return this.modemReset(line);
    this.log.debug('modem line ignored', { line: line.slice(0, 120) });
  }
}
