// Meshtastic node over its serial API (the "stream" protocol the Python CLI and apps use):
// 94 C3 <len16 BE> <protobuf>. At open we wake the node, ask for its configuration
// (ToRadio.want_config_id) and wait for config_complete_id; our frames then go out as
// MeshPacket.decoded with portnum PRIVATE_APP, broadcast, and the node confirms each with a
// QueueStatus. The node encrypts with its channel key on air (Meshtastic's choice, not ours).
import { planLora, type LoraRadioSettings, type LoraTransportOptions } from './common.js';
import { MESHTASTIC_ON_AIR_OVERHEAD } from '../radio/airtime.js';
import {
  BROADCAST,
  MeshtasticStreamDecoder,
  PRIVATE_APP,
  START2,
  MESH_PRESETS,
  MESH_REGIONS,
  decodeFromRadio,
  type MeshLoraConfig,
  encodeToRadio,
  frameStream,
  type FromRadioMsg,
} from './meshtastic-schema.js';
import type { TimerHandle } from '../../util/clock.js';
import { ModemError, ModemTimeoutError } from '../radio/errors.js';
import { RadioTransport, type DeviceInfo, type RadioDeps } from '../radio/transport.js';

/** Meshtastic's DATA_PAYLOAD_LEN: the largest Data.payload a MeshPacket carries. */
export const MESHTASTIC_MAX_PAYLOAD = 233;
/** On-air bytes around our payload: 16-byte packet header plus the Data protobuf wrapping. */
export const MESHTASTIC_AIR_OVERHEAD = MESHTASTIC_ON_AIR_OVERHEAD;
const HEARTBEAT_MS = 300_000;

export interface MeshtasticOptions extends LoraTransportOptions {
  /** Channel index to send on (0 = primary). */
  channel?: number;
  hopLimit?: number;
  /** How long the node may take to dump its configuration at open. */
  configTimeoutMs?: number;
}

interface Waiter {
  match(m: FromRadioMsg): boolean;
  resolve(m: FromRadioMsg): void;
  reject(e: Error): void;
  timer: TimerHandle;
}

export class MeshtasticTransport extends RadioTransport {
  readonly settings: LoraRadioSettings;
  private readonly decoder: MeshtasticStreamDecoder;
  private readonly timeoutMs: number;
  private readonly configTimeoutMs: number;
  private readonly channelIndex: number;
  private readonly hopLimit: number;
  private waiter: Waiter | undefined;
  private myNodeNum: number | undefined;
  private firmware: string | undefined;
  private loraConfig: MeshLoraConfig | undefined;
  private nextId = (Math.random() * 0x7fffffff) >>> 0;
  private heartbeat: TimerHandle | undefined;

  constructor(o: MeshtasticOptions, deps: RadioDeps) {
    const plan = planLora(o, MESHTASTIC_MAX_PAYLOAD);
    super(plan.base(o), deps);
    this.settings = plan.settings;
    this.timeoutMs = o.commandTimeoutMs ?? 3000;
    this.configTimeoutMs = o.configTimeoutMs ?? 15_000;
    this.channelIndex = o.channel ?? 0;
    this.hopLimit = o.hopLimit ?? 3;
    this.decoder = new MeshtasticStreamDecoder((code, n) => {
      if (code === 'mesh-console-bytes') this.counters.inc('mesh-console-bytes', n);
      else this.malformed(code, `length ${n}`);
    });
  }

  get nodeNum(): number | undefined {
    return this.myNodeNum;
  }

  private await(label: string, timeoutMs: number, match: (m: FromRadioMsg) => boolean): Promise<FromRadioMsg> {
    return new Promise((resolve, reject) => {
      const timer = this.clock.after(timeoutMs, () => {
        if (this.waiter !== w) return;
        this.waiter = undefined;
        reject(new ModemTimeoutError(label, timeoutMs));
      });
      const w: Waiter = { match, resolve, reject, timer };
      this.waiter = w;
    });
  }

  protected async initialize(): Promise<void> {
    // Wake a sleeping serial console, as the official clients do, then ask for the config.
    await this.write(new Uint8Array(32).fill(START2));
    await this.sleep(100);
    const nonce = this.nextId++ & 0x7fffffff || 1;
    const done = this.await('want_config_id', this.configTimeoutMs, (m) => m.configCompleteId === nonce);
    done.catch(() => undefined); // awaited below; may fail while the write is pending
    await this.write(frameStream(encodeToRadio({ wantConfigId: nonce })));
    await done;
    if (this.myNodeNum === undefined) this.log.warn('node did not report its node number');
    this.scheduleHeartbeat();
    this.log.info('Meshtastic node ready', { node: this.myNodeNum });
  }

  /** The official clients send a heartbeat every 5 minutes so the node keeps the serial API open. */
  private scheduleHeartbeat(): void {
    if (this.heartbeat) return;
    this.heartbeat = this.clock.after(HEARTBEAT_MS, () => {
      this.heartbeat = undefined;
      if (this.state === 'stopped') return;
      if (this.state === 'up') this.write(frameStream(encodeToRadio({ heartbeat: {} }))).catch(() => undefined);
      this.scheduleHeartbeat();
    });
  }

  /** From the configuration dump the node sent at open (metadata, config.lora), as `meshtastic --info` shows. */
  override async deviceInfo(): Promise<DeviceInfo> {
    const readBack: Record<string, string | number> = {};
    if (this.myNodeNum !== undefined) readBack.node = `!${this.myNodeNum.toString(16).padStart(8, '0')}`;
    const l = this.loraConfig;
    if (l) {
      readBack.region = MESH_REGIONS[l.region ?? 0] ?? String(l.region);
      if (l.usePreset) readBack.preset = MESH_PRESETS[l.modemPreset ?? 0] ?? String(l.modemPreset);
      else readBack.custom = `SF${l.spreadFactor} ${l.bandwidth} kHz 4/${l.codingRate}`;
      if (l.hopLimit !== undefined) readBack.hopLimit = l.hopLimit;
      readBack.txEnabled = l.txEnabled ? 'yes' : 'no';
    }
    return { firmware: this.firmware, readBack, notes: ['the node encrypts with its channel key and adds a 16-byte header on air'] };
  }

  protected async transmit(frame: Uint8Array): Promise<void> {
    const id = this.nextId++ & 0x7fffffff || 1;
    const queued = this.await('MeshPacket', this.timeoutMs, (m) => m.queueStatus?.meshPacketId === id);
    queued.catch(() => undefined); // awaited below; may fail while the write is pending
    await this.write(
      frameStream(
        encodeToRadio({
          packet: {
            to: BROADCAST,
            id,
            channel: this.channelIndex,
            hopLimit: this.hopLimit,
            wantAck: false,
            decoded: { portnum: PRIVATE_APP, payload: frame },
          },
        }),
      ),
    );
    const status = await queued;
    if (status.queueStatus?.res) throw new ModemError('MeshPacket', `queue status ${status.queueStatus.res}`);
  }

  protected onBytes(chunk: Uint8Array): void {
    for (const pb of this.decoder.push(chunk)) {
      let m: FromRadioMsg;
      try {
        m = decodeFromRadio(pb);
      } catch (err) {
        this.malformed('mesh-bad-protobuf', (err as Error).message);
        continue;
      }
      if (m.myInfo?.myNodeNum !== undefined) this.myNodeNum = m.myInfo.myNodeNum;
      if (m.metadata?.firmwareVersion) this.firmware = m.metadata.firmwareVersion;
      if (m.config?.lora) this.loraConfig = m.config.lora;
      const w = this.waiter;
      if (w && w.match(m)) {
        this.waiter = undefined;
        w.timer.cancel();
        w.resolve(m);
        continue;
      }
      if (m.rebooted) {
        this.modemReset('Meshtastic node rebooted');
        continue;
      }
      const p = m.packet;
      if (p?.decoded?.portnum === PRIVATE_APP) {
        if (p.from !== undefined && p.from === this.myNodeNum) continue;
        const payload = p.decoded.payload;
        if (!payload || payload.length === 0 || payload.length > MESHTASTIC_MAX_PAYLOAD) {
          this.malformed('mesh-bad-payload', `length ${payload?.length ?? 0}`);
          continue;
        }
        this.deliver(new Uint8Array(payload));
      }
    }
  }

  protected abortPending(err: Error): void {
    if (this.state === 'stopped' || (err as { code?: string }).code === 'link-closed') {
      this.heartbeat?.cancel();
      this.heartbeat = undefined;
    }
    const w = this.waiter;
    if (!w) return;
    this.waiter = undefined;
    w.timer.cancel();
    w.reject(err);
  }
}
