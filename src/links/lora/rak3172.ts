// RAKwireless RAK3172 (RUI3 firmware) in LoRa P2P mode, over its AT command UART (RUI3 AT
// Command Manual, P2P section):
//   AT+NWM=0                      P2P mode (the module restarts if it was in LoRaWAN mode)
//   AT+P2P=freq:sf:bw:cr:pre:pwr  radio parameters (bw in kHz, cr 0..3 = 4/5..4/8)
//   AT+SYNCWORD=XXXX, AT+IQINVER=0 sync word (SX126x two-byte form) and IQ polarity
//   AT+PRECV=65534 / =0           continuous receive on / off
//   AT+PSEND=<hex>                transmit 2..500 hex digits (at most 250 bytes); OK, then +EVT:TXP2P DONE
//   +EVT:RXP2P:<rssi>:<snr>:<hex> a received packet
// Frames carry the RNode 1-byte header on air (lora/onair.ts), so RNodes on the same profile
// hear us and we hear them.
import { parseModemHex, toModemHex, type LoraRadioSettings, type LoraTransportOptions } from './common.js';
import { LineModemLoraTransport } from './line-modem.js';
import { stripRnodeHeader, withRnodeHeader } from './onair.js';
import type { Expectation } from '../radio/lines.js';
import type { DeviceInfo, RadioDeps } from '../radio/transport.js';

const RAK_ERROR = /^(AT_\w*ERROR|AT_COMMAND_NOT_FOUND|ERROR\b)/;
const RAK_BANNER = /^(RAKwireless|RAK3172|Current Work Mode|LoRa P2P mode|LoRaWAN mode)/i;

/** AT+PSEND's limit: 500 hex digits. Our frame plus the 1-byte header must fit. */
export const RAK_PSEND_MAX_BYTES = 250;

export function rakP2pCommand(s: LoraRadioSettings): string {
  return `AT+P2P=${s.frequencyHz}:${s.sf}:${s.bandwidthHz / 1000}:${s.codingRate - 5}:${s.preambleSymbols}:${s.txPowerDbm}`;
}

/** The whole P2P set-up after AT+NWM=0: radio parameters, sync word, IQ. */
export function rakSetupCommands(s: LoraRadioSettings): string[] {
  const cmds = [rakP2pCommand(s)];
  if (s.syncWord !== undefined) {
    // SX126x register form of the one-byte word 0xXY: 0xX4Y4.
    const w = (((s.syncWord >> 4) & 0xf) << 12) | 0x0400 | ((s.syncWord & 0xf) << 4) | 0x4;
    cmds.push(`AT+SYNCWORD=${w.toString(16).toUpperCase().padStart(4, '0')}`);
  }
  cmds.push(`AT+IQINVER=${s.invertIq ? 1 : 0}`);
  return cmds;
}

export class Rak3172Transport extends LineModemLoraTransport {
  constructor(o: LoraTransportOptions, deps: RadioDeps) {
    super(o, deps, RAK_PSEND_MAX_BYTES - 1, 1024);
  }

  private ok(timeoutMs = this.timeoutMs): Expectation {
    return { ok: (l) => l === 'OK', error: (l) => RAK_ERROR.test(l), timeoutMs };
  }

  protected initialize(): Promise<void> {
    return this.seq.run(async () => {
      this.modem.reset();
      await this.modem.command('AT', this.ok());
      await this.modem.command('AT+NWM=0', this.ok());
      for (const cmd of rakSetupCommands(this.settings)) await this.modem.command(cmd, this.ok());
      await this.modem.command('AT+PRECV=65534', this.ok());
    });
  }

  /** `AT+XXX=?`: the value line(s) before OK (manual, "AT Command Format"). */
  private query(cmd: string): Promise<string> {
    const lines: string[] = [];
    return this.modem
      .command(cmd, { ok: (l) => (l === 'OK' ? true : (lines.push(l), false)), error: (l) => RAK_ERROR.test(l), timeoutMs: this.timeoutMs })
      .then(() => lines.join(' ').trim());
  }

  override deviceInfo(): Promise<DeviceInfo> {
    return this.seq.run(async () => {
      const readBack: Record<string, string | number> = {};
      const firmware = await this.query('AT+VER=?').catch(() => undefined);
      for (const [name, cmd] of [
        ['p2p', 'AT+P2P=?'],
        ['syncWord', 'AT+SYNCWORD=?'],
        ['iqInverted', 'AT+IQINVER=?'],
      ] as const) {
        const v = await this.query(cmd).catch((e: Error) => `(${e.message})`);
        readBack[name] = v;
      }
      return { firmware, readBack, notes: ['p2p = frequency:SF:bandwidth kHz:CR (0 = 4/5):preamble:TX power'] };
    });
  }

  protected transmit(frame: Uint8Array): Promise<void> {
    return this.seq.run(async () => {
      await this.modem.command('AT+PRECV=0', this.ok());
      // `OK` and the TX-done event may arrive in one read: wait for both as one exchange.
      await this.modem.command(`AT+PSEND=${toModemHex(withRnodeHeader(frame))}`, {
        ...this.ok(),
        then: {
          label: '+EVT:TXP2P DONE',
          ok: (l) => l.startsWith('+EVT:TXP2P'),
          error: (l) => RAK_ERROR.test(l),
          timeoutMs: this.airtime(frame.length) + this.timeoutMs,
        },
      });
      await this.modem.command('AT+PRECV=65534', this.ok());
    });
  }

  protected unsolicited(line: string): void {
    if (line.startsWith('+EVT:RXP2P')) {
      // +EVT:RXP2P:<rssi>:<snr>:<hex> (some firmware adds a length field: the payload is last)
      const parts = line.split(':');
      if (parts.length < 5 || parts[1] !== 'RXP2P') return this.malformed('rak-rx-malformed', line.slice(0, 80));
      const payload = parseModemHex(parts[parts.length - 1].trim());
      if (!payload) return this.malformed('rak-rx-bad-hex', line.slice(0, 80));
      const r = stripRnodeHeader(payload);
      if ('error' in r) return this.malformed(r.error, line.slice(0, 80));
      this.deliver(r.frame);
      return;
    }
    if (RAK_BANNER.test(line)) return this.modemReset(line);
    this.log.debug('modem line ignored', { line: line.slice(0, 120) });
  }
}
