// A FrameTransport over a KISS TNC: serial (TNC, Mobilinkd over USB) or TCP (Dire Wolf's KISS
// port). Each frame goes out as one AX.25 UI frame from the operator's callsign to the altnet
// destination address. Amateur radio: no encryption (our frames are plain codec frames, integrity
// from PoW) and no transmission without a callsign, so the constructor refuses to build one.
import type { BoardProfile } from '../boards.js';
import type { LinkCapabilities, LinkDirection } from '../link.js';
import { airtimeMs } from '../radio/airtime.js';
import type { ChannelFactory } from '../radio/channel.js';
import { CallsignRequiredError } from '../radio/errors.js';
import { RadioTransport, type BackoffPolicy, type RadioDeps } from '../radio/transport.js';
import { AX25_HEADER_BYTES, AX25_MAX_INFO, decodeAx25Ui, encodeAx25Ui, formatCallsign, parseCallsign, type Callsign } from './ax25.js';
import { KissCommand, KissDecoder, kissData, kissFullDuplex, kissPersistence, kissSlotTime, kissTxDelay, kissTxTail } from './kiss.js';

/** Destination address of altnet frames (an AX.25 "tocall"-style group address). */
export const ALTNET_DESTINATION = 'ALTNET';

export interface KissTransportOptions {
  name: string;
  /** Operator callsign with optional SSID, e.g. N0CALL-7. Required unless direction is rx. */
  callsign: string | undefined;
  destination?: string;
  /** KISS port nibble (multi-port TNCs, Dire Wolf channels). */
  kissPort?: number;
  openChannel: ChannelFactory;
  /** Board profile for airtime (AFSK 1200) and line settings; kiss-tnc, direwolf or mobilinkd. */
  profile: BoardProfile;
  /** TNC parameters sent at open (omitted ones are left as the TNC has them). */
  txDelayMs?: number;
  persistence?: number;
  slotTimeMs?: number;
  txTailMs?: number;
  fullDuplex?: boolean;
  /** rx: never transmits (receive-only gateways); default duplex. */
  direction?: LinkDirection;
  /** Share of airtime we allow ourselves (1 = unrestricted, as amateur rules have no duty cycle). */
  dutyCycle?: number;
  /** Largest share of the window's airtime budget one burst may use (DutyCycleLimiter burstShare). */
  burstShare?: number;
  queueLimit?: number;
  maxAttempts?: number;
  backoff?: BackoffPolicy;
}

/**
 * Modelled airtime a KISS TNC may hold beyond the frame it is sending, ms. KISS never says when a
 * frame has gone out (the protocol has no answers), so the transport paces itself by the
 * airtime model: it hands the TNC the next frame when the modelled air of the frames it already
 * has ends within this lead. Dire Wolf then still has the next frame queued when one ends and
 * sends it in the same transmission (src/xmit.c, version 1.4 note: frames are "bundled" under
 * one PTT, one TXDELAY), while its queue stays short: a new tip queued in the framed layer waits
 * behind at most about this much air, and Dire Wolf's own limit (src/tq.c tq_append: over 100
 * queued UI frames with PID 0xF0 it discards "Transmit packet queue ... is too long") is never
 * reached. Without pacing, a beacon handed Dire Wolf batches faster than AFSK 1200 carries them.
 */
export const KISS_TNC_LEAD_MS = 1000;

export class KissTransport extends RadioTransport {
  /** Undefined only on a receive-only link: listening needs no licence, so no callsign. */
  readonly callsign: Callsign | undefined;
  readonly destination: Callsign;
  private readonly kissPort: number;
  private readonly decoder: KissDecoder;
  private readonly params: Uint8Array[];
  /** Clock time at which the modelled air of the frames handed to the TNC ends. */
  private airUntil = 0;

  constructor(o: KissTransportOptions, deps: RadioDeps) {
    const noCallsign = o.callsign === undefined || o.callsign.trim() === '';
    if (noCallsign && o.direction !== 'rx') {
      throw new CallsignRequiredError(
        `link ${o.name} has no callsign; set callsign= (or link.${o.name}.callsign=), or make the link receive-only (link.${o.name}.direction=rx, or run with --receive-only), which needs none`,
      );
    }
    const callsign = noCallsign ? undefined : parseCallsign(o.callsign!);
    const destination = parseCallsign(o.destination ?? ALTNET_DESTINATION);
    const kissPort = o.kissPort ?? 0;
    if (!Number.isInteger(kissPort) || kissPort < 0 || kissPort > 15) throw new RangeError(`KISS port must be 0..15, got ${kissPort}`);
    const radio = o.profile.radio;
    const bitrate = radio.bitrate ?? (radio.airtime.model === 'bitrate' ? radio.airtime.bitrate : 1200);
    const capabilities: LinkCapabilities = {
      direction: o.direction ?? 'duplex',
      mtu: Math.min(AX25_MAX_INFO, radio.phyMaxPayload),
      bitrate,
      dutyCycle: o.dutyCycle ?? 1,
      carries: ['headers', 'tx'],
      needsCallsign: true,
    };
    super(
      {
        name: o.name,
        capabilities,
        openChannel: o.openChannel,
        duty: { dutyCycle: o.dutyCycle ?? 1, burstShare: o.burstShare },
        airtimeOf: (n) => airtimeMs(radio.airtime, undefined, n + AX25_HEADER_BYTES),
        queueLimit: o.queueLimit,
        maxAttempts: o.maxAttempts,
        backoff: o.backoff,
      },
      deps,
    );
    this.callsign = callsign;
    this.destination = destination;
    this.kissPort = kissPort;
    this.decoder = new KissDecoder({
      maxFrameBytes: 1 + 14 + 7 * 8 + 2 + AX25_MAX_INFO,
      onError: (code) => this.malformed(code, 'KISS stream'),
    });
    this.params = [];
    if (o.txDelayMs !== undefined) this.params.push(kissTxDelay(kissPort, o.txDelayMs));
    if (o.persistence !== undefined) this.params.push(kissPersistence(kissPort, o.persistence));
    if (o.slotTimeMs !== undefined) this.params.push(kissSlotTime(kissPort, o.slotTimeMs));
    if (o.txTailMs !== undefined) this.params.push(kissTxTail(kissPort, o.txTailMs));
    if (o.fullDuplex !== undefined) this.params.push(kissFullDuplex(kissPort, o.fullDuplex));
    this.log.info('KISS link', {
      callsign: callsign ? formatCallsign(callsign) : 'none (receive-only)',
      destination: formatCallsign(destination),
      kissPort,
    });
  }

  protected async initialize(): Promise<void> {
    // KISS has no answers: parameters are fire-and-forget.
    for (const p of this.params) await this.write(p);
  }

  protected async transmit(frame: Uint8Array): Promise<void> {
    if (!this.callsign) throw new CallsignRequiredError(`link ${this.name} is receive-only and has no callsign`);
    const ax25 = encodeAx25Ui({ destination: this.destination, source: this.callsign, info: frame });
    const ahead = this.airUntil - this.clock.nowMs() - KISS_TNC_LEAD_MS;
    if (ahead > 0) {
      this.counters.inc('kiss_paced');
      await this.sleep(ahead);
    }
    await this.write(kissData(this.kissPort, ax25));
    this.airUntil = Math.max(this.airUntil, this.clock.nowMs()) + this.frameAirtimeMs(frame.length);
  }

  protected onBytes(chunk: Uint8Array): void {
    for (const f of this.decoder.push(chunk)) {
      if (f.type === KissCommand.Return || f.command !== KissCommand.Data) continue;
      if (f.port !== this.kissPort) {
        this.counters.inc('kiss_other_port');
        continue;
      }
      let ui;
      try {
        ui = decodeAx25Ui(f.payload);
      } catch (err) {
        this.malformed((err as { code?: string }).code ?? 'ax25_malformed', (err as Error).message);
        continue;
      }
      if (ui.destination.call !== this.destination.call || ui.pid !== 0xf0) {
        this.counters.inc('ax25_foreign');
        continue;
      }
      if (this.callsign && ui.source.call === this.callsign.call && ui.source.ssid === this.callsign.ssid) {
        this.counters.inc('ax25_own_echo');
        continue;
      }
      this.deliver(ui.info);
    }
  }

  protected abortPending(): void {
    // Nothing waits for an answer in KISS.
  }
}
