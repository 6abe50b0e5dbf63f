// RNode (markqvist/RNode_Firmware): KISS framing with RNode's own command bytes in the type
// field (Framing.h). After a detect handshake (which also asks for the firmware version,
// platform and MCU, as Reticulum's RNodeInterface.detect() does) each radio parameter is written
// and the RNode reports the value it applied. Data frames (command 0x00) carry one payload each
// way; the firmware adds a 1-byte header on air (and would split above 254 bytes: our MTU stays
// below that). Behaviour follows the firmware and Reticulum's RNodeInterface.py:
// - the frequency comes back as the chip reads it (SX127x: a 61 Hz register step, 868100000 ->
//   868099975), so it is accepted within 100 Hz (RNodeInterface.validateRadioState);
// - TX power is an unsigned byte (0xFF is "query") that the firmware caps at the chip's maximum
//   (17 dBm SX127x, 22 dBm SX126x): a capped echo is accepted with a warning;
// - a reboot is announced with CMD_RESET 0xF8 (setup(): kiss_indicate_reset): the radio is off
//   and unconfigured, so we configure it again;
// - CMD_ERROR: 0x05 (memory low) and 0x06 (modem timeout) are logged only, as Reticulum does;
//   0x02 (TX failed) fails the frame being transmitted (not counted as sent, retried); 0x01
//   (radio init) and unknown codes reconfigure.
import { KissDecoder, kissEncodeRaw } from '../kiss/kiss.js';
import { planLora, type LoraRadioSettings, type LoraTransportOptions } from './common.js';
import { RNODE_SINGLE_PAYLOAD } from './onair.js';
import { ModemError, ModemResetError, ModemTimeoutError } from '../radio/errors.js';
import type { TimerHandle } from '../../util/clock.js';
import { RadioTransport, type DeviceInfo, type RadioDeps } from '../radio/transport.js';
import { ConfigError } from '../../util/errors.js';

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
  PLATFORM: 0x48,
  MCU: 0x49,
  FW_VERSION: 0x50,
  RESET: 0x55,
  RESET_BYTE: 0xf8,
  ERROR: 0x90,
  DETECT_REQ: 0x73,
  DETECT_RESP: 0x46,
  RADIO_STATE_OFF: 0x00,
  RADIO_STATE_ON: 0x01,
} as const;

/** Framing.h CMD_ERROR codes. */
export const RNODE_ERRORS: Record<number, string> = {
  0x01: 'radio initialisation failed',
  0x02: 'transmission failed',
  0x03: 'EEPROM locked',
  0x04: 'queue full',
  0x05: 'memory low',
  0x06: 'modem timeout',
};

/** Reticulum's tolerance for the frequency the radio reports (RNodeInterface.validateRadioState). */
export const RNODE_FREQUENCY_TOLERANCE_HZ = 100;
/** The highest TX power any RNode chip accepts (SX126x; SX127x caps at 17 dBm). */
export const RNODE_MAX_TXPOWER_DBM = 22;

/** RNodeInterface.REQUIRED_FW_VER_MAJ/MIN: Reticulum refuses firmware below 1.52. */
const RNODE_MIN_MINOR = 52;

const PLATFORMS: Record<number, string> = { 0x90: 'AVR', 0x80: 'ESP32', 0x70: 'NRF52' };

export interface RNodeInfo {
  firmware?: string;
  platform?: string;
  mcu?: number;
  /** Values the RNode reported back after configuration. */
  reported: { frequencyHz?: number; bandwidthHz?: number; txPowerDbm?: number; sf?: number; codingRate?: number };
}

function u32be(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v);
  return b;
}

const readU32 = (b: Uint8Array) => (b.length === 4 ? new DataView(b.buffer, b.byteOffset, 4).getUint32(0) : undefined);

/** The parameter frames sent after detect, in order. */
export function rnodeConfigFrames(s: LoraRadioSettings): { cmd: number; value: Uint8Array }[] {
  return [
    { cmd: RNODE.FREQUENCY, value: u32be(s.frequencyHz) },
    { cmd: RNODE.BANDWIDTH, value: u32be(s.bandwidthHz) },
    { cmd: RNODE.TXPOWER, value: Uint8Array.of(s.txPowerDbm) },
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
  readonly info: RNodeInfo = { reported: {} };
  private readonly decoder: KissDecoder;
  private readonly timeoutMs: number;
  private readonly airtime: (n: number) => number;
  private waiter: Waiter | undefined;
  private configured = false;
  /** The transmission waiting out its airtime, failed by a CMD_ERROR 0x02. */
  private sending: { fail(err: Error): void } | undefined;

  constructor(o: LoraTransportOptions, deps: RadioDeps) {
    const plan = planLora(o, RNODE_SINGLE_PAYLOAD);
    if (plan.settings.txPowerDbm < 0 || plan.settings.txPowerDbm > RNODE_MAX_TXPOWER_DBM) {
      throw new ConfigError(
        'lora-power-invalid',
        `RNode TX power is an unsigned byte the firmware caps at 17 dBm (SX127x) or 22 dBm (SX126x); got ${plan.settings.txPowerDbm} dBm, use 0..${RNODE_MAX_TXPOWER_DBM}`,
      );
    }
    super(plan.base(o), deps);
    this.settings = plan.settings;
    this.airtime = plan.airtimeOf;
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

  private async optional(cmd: number): Promise<Uint8Array | undefined> {
    try {
      return await this.request(cmd, Uint8Array.of(0x00));
    } catch (err) {
      if ((err as { code?: string }).code !== 'modem-timeout') throw err;
      this.log.info('RNode did not answer an informational query', { command: `0x${cmd.toString(16)}` });
      return undefined;
    }
  }

  /** Whether the value the RNode reported for `cmd` means it applied what we asked. */
  private accepts(cmd: number, asked: Uint8Array, got: Uint8Array): boolean {
    if (got.length !== asked.length) return false;
    if (cmd === RNODE.FREQUENCY) {
      const f = readU32(got)!;
      return Math.abs(f - this.settings.frequencyHz) <= RNODE_FREQUENCY_TOLERANCE_HZ;
    }
    if (cmd === RNODE.TXPOWER && got[0] < asked[0] && (got[0] === 17 || got[0] === 22)) {
      this.log.warn('RNode capped the TX power at its chip maximum', { asked: asked[0], applied: got[0] });
      return true;
    }
    return got.every((b, i) => b === asked[i]);
  }

  protected async initialize(): Promise<void> {
    this.configured = false;
    const detect = await this.request(RNODE.DETECT, Uint8Array.of(RNODE.DETECT_REQ));
    if (detect[0] !== RNODE.DETECT_RESP) throw new ModemError('RNode detect', `answer 0x${(detect[0] ?? 0).toString(16)}`);
    // Version and platform, as Reticulum's detect() asks; informational, so a firmware that does
    // not answer them is still used.
    const version = await this.optional(RNODE.FW_VERSION);
    if (version && version.length >= 2) {
      this.info.firmware = `${version[0]}.${version[1].toString().padStart(2, '0')}`;
      if (version[0] < 1 || (version[0] === 1 && version[1] < RNODE_MIN_MINOR)) {
        this.log.warn('RNode firmware is older than Reticulum requires; update it with rnodeconf', {
          firmware: this.info.firmware,
          minimum: `1.${RNODE_MIN_MINOR}`,
        });
      }
    }
    const platform = await this.optional(RNODE.PLATFORM);
    if (platform) this.info.platform = PLATFORMS[platform[0]] ?? `0x${(platform[0] ?? 0).toString(16)}`;
    for (const { cmd, value } of rnodeConfigFrames(this.settings)) {
      const got = await this.request(cmd, value);
      if (!this.accepts(cmd, value, got)) {
        throw new ModemError(
          `RNode set 0x${cmd.toString(16)}`,
          `reported ${Buffer.from(got).toString('hex')} instead of ${Buffer.from(value).toString('hex')}`,
        );
      }
      this.record(cmd, got);
    }
    // With the radio on, the firmware reads the frequency back from the chip: ask for it.
    const f = await this.request(RNODE.FREQUENCY, u32be(0));
    if (!this.accepts(RNODE.FREQUENCY, u32be(this.settings.frequencyHz), f)) {
      throw new ModemError('RNode frequency', `radio runs at ${readU32(f)} Hz instead of ${this.settings.frequencyHz} Hz`);
    }
    this.record(RNODE.FREQUENCY, f);
    this.configured = true;
    this.log.info('RNode configured', {
      firmware: this.info.firmware,
      platform: this.info.platform,
      frequencyHz: this.info.reported.frequencyHz,
    });
  }

  override async deviceInfo(): Promise<DeviceInfo> {
    const r = this.info.reported;
    const readBack: Record<string, string | number> = {};
    if (r.frequencyHz !== undefined) readBack.frequencyHz = r.frequencyHz;
    if (r.bandwidthHz !== undefined) readBack.bandwidthHz = r.bandwidthHz;
    if (r.sf !== undefined) readBack.sf = r.sf;
    if (r.codingRate !== undefined) readBack.codingRate = `4/${r.codingRate}`;
    if (r.txPowerDbm !== undefined) readBack.txPowerDbm = r.txPowerDbm;
    if (this.info.platform) readBack.platform = this.info.platform;
    return { firmware: this.info.firmware, readBack, notes: ['sync word 0x12, preamble and CRC are fixed by the RNode firmware'] };
  }

  private record(cmd: number, got: Uint8Array): void {
    const r = this.info.reported;
    if (cmd === RNODE.FREQUENCY) r.frequencyHz = readU32(got);
    else if (cmd === RNODE.BANDWIDTH) r.bandwidthHz = readU32(got);
    else if (cmd === RNODE.TXPOWER) r.txPowerDbm = got[0];
    else if (cmd === RNODE.SF) r.sf = got[0];
    else if (cmd === RNODE.CR) r.codingRate = got[0];
  }

  /**
   * The firmware queues the frame and reports only failures (CMD_ERROR 0x02), so a frame counts
   * as sent once its airtime has passed without one; this also paces the host to the air.
   */
  protected async transmit(frame: Uint8Array): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const timer = this.clock.after(this.airtime(frame.length) + 50, () => {
        this.sending = undefined;
        resolve();
      });
      this.sending = {
        fail: (err) => {
          timer.cancel();
          this.sending = undefined;
          reject(err);
        },
      };
      this.write(kissEncodeRaw(RNODE.DATA, frame)).catch((err: Error) => this.sending?.fail(err));
    });
  }

  protected onBytes(chunk: Uint8Array): void {
    for (const f of this.decoder.push(chunk)) {
      if (f.type === RNODE.DATA) {
        if (f.payload.length === 0 || f.payload.length > 508) this.malformed('rnode-bad-data', `length ${f.payload.length}`);
        else this.deliver(f.payload);
        continue;
      }
      if (f.type === RNODE.ERROR) {
        this.onError(f.payload[0] ?? 0);
        continue;
      }
      if (f.type === RNODE.RESET && f.payload[0] === RNODE.RESET_BYTE) {
        // setup() announces every boot; whatever we configured is gone.
        this.counters.inc('rnode_reboots');
        if (this.configured && this.state === 'up') this.counters.inc('modem_resets');
        this.configured = false;
        this.log.warn('RNode rebooted; configuring it again');
        const err = new ModemResetError('RNode CMD_RESET 0xF8');
        this.sending?.fail(err);
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
        // The radio went off without us asking (another host, a radio fault).
        this.configured = false;
        this.modemReset('RNode radio state off');
        continue;
      }
      // Statistics (RSSI, SNR, PHY parameters), the second RADIO_STATE of startRadio(): informational.
    }
  }

  private onError(code: number): void {
    const what = RNODE_ERRORS[code] ?? 'unknown error';
    this.counters.inc(`rnode_error_${code.toString(16).padStart(2, '0')}`);
    this.log.warn('RNode reported an error', { code: `0x${code.toString(16).padStart(2, '0')}`, error: what });
    const err = new ModemError('RNode', `error 0x${code.toString(16).padStart(2, '0')} (${what})`);
    switch (code) {
      case 0x05: // ERROR_MEMORY_LOW: Reticulum records it and carries on
      case 0x06: // ERROR_MODEM_TIMEOUT: likewise (a 0x02 and a reboot follow if it was fatal)
      case 0x03: // ERROR_EEPROM_LOCKED: about ROM writes, which we never do
        return;
      case 0x02: // ERROR_TXFAILED: the frame did not go out
      case 0x04: // ERROR_QUEUE_FULL
        if (this.sending) {
          this.sending.fail(err);
          return;
        }
        if (code === 0x04) return;
        this.fault(err); // a failure with nothing in flight: the radio is off, turn it on
        return;
      default:
        this.fault(err); // 0x01 radio init failed, or unknown: configure again
    }
  }

  protected abortPending(err: Error): void {
    this.sending?.fail(err);
    const w = this.waiter;
    if (!w) return;
    this.waiter = undefined;
    w.timer.cancel();
    w.reject(err);
  }
}
