// A FrameTransport on the simulated air (air.ts), built on the same RadioTransport machinery
// as the real modems: bounded queue, duty-cycle limiter with LoRa airtime, reopen on loss. A
// frame counts as sent when the air reports it has left the air ('D'), as a modem reports TX
// done, so one frame is on air at a time and the next waits for the previous one's airtime.
import { createSocket } from 'node:dgram';
import type { HostPort } from '../../util/net.js';
import { readLinkOptions } from '../options.js';
import { SIM_OPTIONS } from './options.js';
import type { LinkDirection } from '../link.js';
import { largestFrameWithin, loraAirtimeMs, loraBitrate, loraParams, type LoraAirtimeParams } from '../radio/airtime.js';
import { HOUR_MS } from '../radio/regions.js';
import { ConfigError } from '../../util/errors.js';
import type { ByteChannel } from '../radio/channel.js';
import { scaledClock, type TimerHandle } from '../../util/clock.js';
import { RadioTransport, type RadioDeps } from '../radio/transport.js';
import { AIR_FRAME, AIR_JOIN, AIR_TX_DONE } from './air.js';

const JOIN = Uint8Array.of(AIR_JOIN);
const JOIN_EVERY_MS = 5000;
/** Longest wait for the air's TX done beyond the frame's airtime before the transmission counts as failed. */
const TX_DONE_GRACE_MS = 5000;

/**
 * Largest frame by spreading factor at 125 kHz: the LoRa boards' EU868 P2P limits (boards/rnode.json
 * maxPayload, whose notes say why SF10-12 carry 115 bytes rather than LoRaWAN DR0-2's 51).
 */
export const EU868_MAX_PAYLOAD: Record<number, number> = { 7: 222, 8: 222, 9: 115, 10: 115, 11: 115, 12: 115 };

export interface SimTransportOptions {
  name: string;
  air: { host: string; port: number };
  lora: LoraAirtimeParams;
  direction: LinkDirection;
  dutyCycle: number;
  mtu?: number;
  /** Burst share of the duty-cycle limiter (link option burst=; default the limiter's). */
  burstShare?: number;
  /** Another modulation's airtime (AFSK 1200 on the simulated air) and bit rate; default LoRa's. */
  airtimeOf?: (bytes: number) => number;
  bitrate?: number;
  /** The air in this process (SimAir.connect) instead of UDP. */
  openChannel?: () => Promise<ByteChannel>;
  /** How much faster than real time this link's clock runs (option timescale=): the TX-done grace stays real seconds. */
  timescale?: number;
}

function openUdpChannel(air: { host: string; port: number }): Promise<ByteChannel> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    const dataHandlers: Array<(c: Uint8Array) => void> = [];
    const closeHandlers: Array<(r: string) => void> = [];
    let closing = false;
    socket.on('message', (msg) => {
      for (const h of dataHandlers) h(new Uint8Array(msg));
    });
    socket.on('error', (err) => {
      if (!closing) for (const h of closeHandlers) h(err.message);
    });
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve({
        description: `sim:${air.host}:${air.port}`,
        write: (data) => new Promise<void>((res, rej) => socket.send(data, air.port, air.host, (err) => (err ? rej(err) : res()))),
        close: () =>
          new Promise<void>((res) => {
            closing = true;
            socket.close(() => res());
          }),
        onData: (h) => dataHandlers.push(h),
        onClose: (h) => closeHandlers.push(h),
      });
    });
  });
}

export class SimTransport extends RadioTransport {
  private readonly timescale: number;
  private joinTimer: TimerHandle | undefined;
  private txDone: { resolve(): void; reject(e: Error): void; timer: TimerHandle } | undefined;

  constructor(o: SimTransportOptions, deps: RadioDeps) {
    const airtimeOf = o.airtimeOf ?? ((bytes: number) => loraAirtimeMs(bytes, o.lora));
    // As a LoRa modem's link (lora/common.ts planLora): no frame longer than one window's budget.
    const mtu = o.mtu ?? largestFrameWithin(EU868_MAX_PAYLOAD[o.lora.sf] ?? 51, airtimeOf, o.dutyCycle * HOUR_MS);
    const least = SIM_OPTIONS.find((s) => s.key === 'mtu')?.min ?? 1;
    if (mtu < least)
      throw new ConfigError(
        'sim-rate-unusable',
        `link.${o.name}: at SF${o.lora.sf} a duty cycle of ${o.dutyCycle} leaves no frame of ${least} bytes within one hour's airtime budget; raise dutycycle= or lower sf=`,
      );
    super(
      {
        name: o.name,
        capabilities: {
          direction: o.direction,
          mtu,
          bitrate: o.bitrate ?? Math.round(loraBitrate(o.lora)),
          dutyCycle: o.dutyCycle,
          carries: ['headers', 'tx'],
          needsCallsign: false,
        },
        openChannel: o.openChannel ?? (() => openUdpChannel(o.air)),
        duty: { dutyCycle: o.dutyCycle, ...(o.burstShare !== undefined && { burstShare: o.burstShare }) },
        airtimeOf,
        queueLimit: 512,
      },
      deps,
    );
    this.timescale = o.timescale ?? 1;
    if (this.timescale !== 1) this.counters.set('timescale', this.timescale);
  }

  protected async initialize(): Promise<void> {
    // Joining is what makes the air deliver to us; repeat it in case the air restarted.
    await this.write(JOIN);
    this.joinTimer?.cancel();
    const rejoin = () => {
      this.joinTimer = this.clock.after(JOIN_EVERY_MS, rejoin);
      void this.write(JOIN).catch(() => {});
    };
    this.joinTimer = this.clock.after(JOIN_EVERY_MS, rejoin);
  }

  protected async transmit(frame: Uint8Array): Promise<void> {
    const d = new Uint8Array(frame.length + 1);
    d[0] = AIR_FRAME;
    d.set(frame, 1);
    const done = new Promise<void>((resolve, reject) => {
      // The grace is for a slow process, in real time: on a compressed clock it is scaled up.
      const timer = this.clock.after(this.frameAirtimeMs(frame.length) + TX_DONE_GRACE_MS * this.timescale, () => {
        this.txDone = undefined;
        this.counters.inc('tx_done_timeouts');
        reject(new Error('the simulated air did not report the end of the transmission (is the air running?)'));
      });
      this.txDone = { resolve, reject, timer };
    });
    await this.write(d);
    await done;
  }

  protected onBytes(chunk: Uint8Array): void {
    if (chunk[0] === AIR_FRAME && chunk.length > 1) this.deliver(chunk.subarray(1));
    else if (chunk[0] === AIR_TX_DONE && chunk.length === 1) {
      const w = this.txDone;
      this.txDone = undefined;
      if (w) {
        w.timer.cancel();
        w.resolve();
      }
    }
  }

  protected abortPending(err: Error): void {
    const w = this.txDone;
    this.txDone = undefined;
    if (w) {
      w.timer.cancel();
      w.reject(err);
    }
  }

  override async close(): Promise<void> {
    this.joinTimer?.cancel();
    await super.close();
  }
}

/** `link.<name>.type=sim` with the options of SIM_OPTIONS (options.ts). */
export function simTransportFromOptions(name: string, options: Record<string, string>, deps: RadioDeps): SimTransport {
  const o = readLinkOptions({ ...options, name }, 'sim', 'sim', SIM_OPTIONS);
  const sf = o.must<number>('sf');
  return new SimTransport(
    {
      name,
      air: o.must<HostPort>('air'),
      lora: loraParams(sf, o.must<number>('bw') * 1000, o.must<number>('cr')),
      direction: o.must<LinkDirection>('direction'),
      dutyCycle: o.must<number>('dutycycle'),
      mtu: o.int('mtu'),
      timescale: o.must<number>('timescale'),
    },
    { ...deps, clock: scaledClock(o.must<number>('timescale'), deps.clock) },
  );
}
