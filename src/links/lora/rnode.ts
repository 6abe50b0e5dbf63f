// RNode (unsigned.io firmware): KISS framing with RNode's own command bytes in the type field.
// After a detect handshake, each radio parameter is written and the RNode reports the value it
// applied, which must match. Data frames (command 0x00) carry one raw LoRa payload each way.
import { KissDecoder, kissEncodeRaw } from '../kiss/kiss.js';
import { planLora, type LoraRadioSettings, type LoraTransportOptions } from './common.js';
import { ModemError, ModemResetError, ModemTimeoutError } from '../radio/errors.js';
import type { TimerHandle } from '../radio/clock.js';
import { RadioTransport, type RadioDeps } from '../radio/transport.js';

export const RNODE = {
  DATA: 0x00,
  FREQUENCY: 0x01,
  BANDWIDTH: 0x02,
  TXPOWER: 0x03,
  SF: 0x04,
  CR: 0x05,
  RADIO_STATE: 0x06,
  DETECT: 0x08,
  READY: 0x0f,
  STAT_RX: 0x21,
  STAT_TX: 0x22,
  STAT_RSSI: 0x23,
  STAT_SNR: 0x24,
  FW_VERSION: 0x50,
  ERROR: 0x90,
  DETECT_REQ: 0x73,
  DETECT_RESP: 0x46,
  RADIO_STATE_OFF: 0x00,
  RADIO_STATE_ON: 0x01,
} as const;

function u32be(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v);
  return b;
}

/** The parameter frames sent after detect, in order, with the value the RNode must report. */
export function rnodeConfigFrames(s: LoraRadioSettings): { cmd: number; value: Uint8Array }[] {
  return [
    { cmd: RNODE.FREQUENCY, value: u32be(s.frequencyHz) },
    { cmd: RNODE.BANDWIDTH, value: u32be(s.bandwidthHz) },
    { cmd: RNODE.TXPOWER, value: Uint8Array.of(s.txPowerDbm & 0xff) },
    { cmd: RNODE.SF, value: Uint8Array.of(s.sf) },
    { cmd: RNODE.CR, value: Uint8Array.of(s.codingRate) },
    { cmd: RNODE.RADIO_STATE, value: Uint8Array.of(RNODE.RADIO_STATE_ON) },
  ];
}

interface Waiter {
  cmd: number;
  resolve(v: Uint8Array): void;
  reject(e: Error): void;
  timer: TimerHandle;
}

export class RNodeTransport extends RadioTransport {
  readonly settings: LoraRadioSettings;
  private readonly decoder: KissDecoder;
  private readonly timeoutMs: number;
  private waiter: Waiter | undefined;
  private configured = false;

  constructor(o: LoraTransportOptions, deps: RadioDeps) {
    const plan = planLora(o, 0, 255);
    super(plan.base(o), deps);
    this.settings = plan.settings;
    this.timeoutMs = o.commandTimeoutMs ?? 2000;
    this.decoder = new KissDecoder({ maxFrameBytes: 1 + 512, onError: (code) => this.malformed(code, 'RNode KISS stream') });
  }

  private request(cmd: number, value: Uint8Array, answer = cmd): Promise<Uint8Array> {
    return new Promise<Uint8Array>((resolve, reject) => {
      const timer = this.clock.after(this.timeoutMs, () => {
        if (this.waiter !== w) return;
        this.waiter = undefined;
        reject(new ModemTimeoutError(`RNode command 0x${cmd.toString(16)}`, this.timeoutMs));
      });
      const w: Waiter = { cmd: answer, resolve, reject, timer };
      this.waiter = w;
      this.write(kissEncodeRaw(cmd, value)).catch((err: Error) => this.abortPending(err));
    });
  }

  protected async initialize(): Promise<void> {
    this.configured = false;
    const detect = await this.request(RNODE.DETECT, Uint8Array.of(RNODE.DETECT_REQ));
    if (detect[0] !== RNODE.DETECT_RESP) throw new ModemError('RNode detect', `answer 0x${(detect[0] ?? 0).toString(16)}`);
    for (const { cmd, value } of rnodeConfigFrames(this.settings)) {
      const got = await this.request(cmd, value);
      if (got.length !== value.length || got.some((b, i) => b !== value[i])) {
        throw new ModemError(`RNode set 0x${cmd.toString(16)}`, `reported ${Buffer.from(got).toString('hex')} instead of ${Buffer.from(value).toString('hex')}`);
      }
    }
    this.configured = true;
  }

  protected async transmit(frame: Uint8Array): Promise<void> {
    await this.write(kissEncodeRaw(RNODE.DATA, frame));
  }

  protected onBytes(chunk: Uint8Array): void {
    for (const f of this.decoder.push(chunk)) {
      if (f.type === RNODE.DATA) {
        if (f.payload.length === 0 || f.payload.length > 255) this.malformed('rnode-bad-data', `length ${f.payload.length}`);
        else this.deliver(f.payload);
        continue;
      }
      if (f.type === RNODE.ERROR) {
        this.counters.inc('rnode_errors');
        const err = new ModemError('RNode', `error 0x${(f.payload[0] ?? 0).toString(16)}`);
        this.log.warn('RNode reported an error', { code: f.payload[0] });
        this.fault(err);
        continue;
      }
      const w = this.waiter;
      if (w && w.cmd === f.type) {
        this.waiter = undefined;
        w.timer.cancel();
        w.resolve(f.payload);
        continue;
      }
      if (f.type === RNODE.RADIO_STATE && f.payload[0] === RNODE.RADIO_STATE_OFF && this.configured) {
        // The radio went off without us asking: the board rebooted or reset its radio.
        if (this.state === 'up') this.counters.inc('modem_resets'); // one reset, however many banner lines
        this.fault(new ModemResetError('RNode radio state off'));
        continue;
      }
      // Statistics (RSSI, SNR, counters), READY and the like: informational.
    }
  }

  protected abortPending(err: Error): void {
    const w = this.waiter;
    if (!w) return;
    this.waiter = undefined;
    w.timer.cancel();
    w.reject(err);
  }
}
