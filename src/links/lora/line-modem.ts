// What the two LoRa modems driven by text commands (RAK3172 AT commands, RN2483 `radio`
// commands) share: the LoRa plan, a line modem on the serial port, one command exchange at a
// time (Sequencer), and the lines the modem sends on its own handed to the dialect.
import { planLora, Sequencer, type LoraRadioSettings, type LoraTransportOptions } from './common.js';
import type { LineModem } from '../radio/lines.js';
import { RadioTransport, type RadioDeps } from '../radio/transport.js';

export abstract class LineModemLoraTransport extends RadioTransport {
  readonly settings: LoraRadioSettings;
  protected readonly modem: LineModem;
  protected readonly seq = new Sequencer();
  protected readonly timeoutMs: number;
  protected readonly airtime: (n: number) => number;

  /** `maxFrame`: the most bytes one of our frames may have on this modem; `maxLineBytes`: the default line bound. */
  constructor(o: LoraTransportOptions, deps: RadioDeps, maxFrame: number, maxLineBytes: number) {
    const plan = planLora(o, maxFrame);
    super(plan.base(o), deps);
    this.settings = plan.settings;
    this.airtime = plan.airtimeOf;
    this.timeoutMs = o.commandTimeoutMs ?? 2000;
    this.modem = this.lineModem(o.profile.transports.serial, maxLineBytes, (line) => this.unsolicited(line));
  }

  /** A line the modem sent outside a command exchange: a received packet, an event, a banner. */
  protected abstract unsolicited(line: string): void;

  protected onBytes(chunk: Uint8Array): void {
    this.modem.push(chunk);
  }

  protected abortPending(err: Error): void {
    this.modem.abort(err);
  }
}
