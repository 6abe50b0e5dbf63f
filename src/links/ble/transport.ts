// Bluetooth LE link, central role, through noble: finds a peripheral by name or address, connects,
// negotiates the ATT MTU, finds the service's write and notify characteristics, and then moves
// frames: each outgoing frame is framed (KISS or length prefix), split into writes of
// (ATT MTU - 3) bytes, and written with response (the response is our flow control); incoming
// notifications are fed to a bounded stream decoder. When the link drops it scans and connects
// again with exponential backoff; frames queued meanwhile wait (bounded) and go out on the next
// connection.
import { AltnetError, ConfigError, InvalidDataError } from '../../util/errors.js';
import type { Logger } from '../../util/log.js';
import type { Counters } from '../../util/counters.js';
import { canTransmit, type FrameTransport, type LinkCapabilities, type LinkState } from '../link.js';
import { KissStreamDecoder, lengthPrefixEncode, LengthPrefixDecoder, type DecodeProblems, type StreamDecoder } from './framing.js';
import { BleCentral, type BleCentralConfig, type BleCentralDeps, type BleConnection } from './central.js';
import { decodeAx25Ui, encodeAx25Ui, type Callsign } from '../kiss/ax25.js';
import { kissData } from '../kiss/kiss.js';

export { KISS_SERVICE, NUS_SERVICE, realTimers, type BleServiceProfile, type Timers } from './central.js';

export interface BleTransportConfig extends BleCentralConfig {
  capabilities: LinkCapabilities;
  /**
   * Amateur-radio TNCs (KISS service on an amateur board): each frame goes on air as an AX.25 UI
   * frame from the operator's callsign, and only UI frames to `destination` are delivered.
   */
  /** No source: a receive-only amateur link, which has no callsign and never transmits. */
  ax25?: { source?: Callsign; destination: Callsign };
  reconnectMinMs: number;
  reconnectMaxMs: number;
  maxQueuedFrames: number;
  /** Attempts (each on a fresh connection) before a frame that keeps failing is given up. */
  maxSendAttempts: number;
}

/** Defaults of the BLE link options; the option table (options.ts) is where they live. */
export { BLE_DEFAULTS } from './options.js';

export type BleTransportDeps = BleCentralDeps;

interface PendingFrame {
  wire: Uint8Array;
  attempts: number;
  resolve(): void;
  reject(e: Error): void;
}

export class BleTransport implements FrameTransport {
  readonly capabilities: LinkCapabilities;
  private readonly log: Logger;
  private readonly counters: Counters;
  private readonly decoder: StreamDecoder;
  private readonly frameHandlers: ((frame: Uint8Array) => void)[] = [];
  private readonly stateHandlers: ((state: LinkState, reason?: string) => void)[] = [];
  private readonly queue: PendingFrame[] = [];
  private central: BleCentral | null = null;
  private link: BleConnection | null = null;
  private loop: Promise<void> | null = null;
  private closing = false;
  private pumping = false;
  private currentState: LinkState = 'stopped';
  private seenProblems: DecodeProblems = { garbageBytes: 0, badFrames: 0, oversize: 0, nonData: 0 };

  constructor(
    private readonly cfg: BleTransportConfig,
    private readonly deps: BleTransportDeps,
  ) {
    this.capabilities = cfg.capabilities;
    this.log = deps.log;
    this.counters = deps.counters;
    // With AX.25, a KISS frame also holds the address field (up to 8 digipeaters), control and PID.
    const maxPayload = cfg.capabilities.mtu + (cfg.ax25 ? 14 + 7 * 8 + 2 : 0);
    this.decoder = cfg.profile.framing === 'kiss' ? new KissStreamDecoder(maxPayload) : new LengthPrefixDecoder(maxPayload);
  }

  get state(): LinkState {
    return this.currentState;
  }

  /** ATT MTU in use on the current connection, or null when not connected. */
  get attMtu(): number | null {
    return this.link && !this.link.ended ? this.link.attMtu : null;
  }

  onFrame(handler: (frame: Uint8Array) => void): void {
    this.frameHandlers.push(handler);
  }

  onState(handler: (state: LinkState, reason?: string) => void): void {
    this.stateHandlers.push(handler);
  }

  /**
   * Brings the adapter up and starts looking for the peripheral. Resolves once the adapter is
   * powered on; the connection itself is reported through onState ('up', 'down').
   */
  async open(): Promise<void> {
    if (this.central) throw new AltnetError('ble-already-open', `BLE link ${this.cfg.linkName} is already open`);
    this.closing = false;
    this.setState('starting');
    const central = new BleCentral(this.cfg, this.deps);
    this.central = central;
    try {
      await central.start();
    } catch (e) {
      this.central = null;
      this.setState(this.closing ? 'stopped' : 'down', e instanceof Error ? e.message : String(e));
      throw e;
    }
    this.loop = this.run(central);
  }

  async close(): Promise<void> {
    const central = this.central;
    if (!central) {
      this.closing = true;
      if (this.currentState !== 'stopped') this.setState('stopped');
      return;
    }
    this.closing = true;
    // Tell the peripheral we are leaving rather than letting it wait for a supervision timeout.
    if (this.link) await this.link.disconnect(2_000);
    central.stop();
    try {
      await this.loop;
    } catch {
      // run() does not throw, but close must finish whatever happened.
    }
    this.loop = null;
    this.central = null;
    for (const f of this.queue.splice(0)) {
      f.reject(new AltnetError('ble-closed', `BLE link ${this.cfg.linkName} closed before the frame was sent`));
    }
    this.counters.set('tx_queue', 0);
    this.setState('stopped');
  }

  send(frame: Uint8Array): Promise<void> {
    if (!this.central || this.closing) {
      return Promise.reject(new AltnetError('ble-closed', `BLE link ${this.cfg.linkName} is not open`));
    }
    const ax25 = this.cfg.ax25;
    if (!canTransmit(this.capabilities) || (ax25 && !ax25.source)) {
      this.counters.inc('send_on_rx_only');
      return Promise.reject(
        new ConfigError('link-receive-only', `BLE link ${this.cfg.linkName} is receive-only (direction=rx); it never transmits`),
      );
    }
    if (frame.length > this.capabilities.mtu) {
      this.counters.inc('tx_too_large');
      return Promise.reject(
        new InvalidDataError(
          'ble-frame-too-large',
          `frame of ${frame.length} bytes exceeds the BLE link ${this.cfg.linkName} MTU of ${this.capabilities.mtu}`,
        ),
      );
    }
    if (this.queue.length >= this.cfg.maxQueuedFrames) {
      this.counters.inc('tx_queue_full');
      return Promise.reject(
        new AltnetError(
          'ble-queue-full',
          `BLE link ${this.cfg.linkName}: ${this.queue.length} frames already wait to be sent ` +
            `(link ${this.currentState}); retry later`,
        ),
      );
    }
    const body = ax25 ? encodeAx25Ui({ destination: ax25.destination, source: ax25.source!, info: frame }) : frame;
    const wire = this.cfg.profile.framing === 'kiss' ? kissData(0, body) : lengthPrefixEncode(body);
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ wire, attempts: 0, resolve, reject });
      this.counters.set('tx_queue', this.queue.length);
      void this.pump();
    });
  }

  // -------------------------------------------------------------------------------------------

  private setState(state: LinkState, reason?: string): void {
    if (state === this.currentState && reason === undefined) return;
    this.currentState = state;
    if (reason) this.log.info(`link ${state}`, { reason });
    else this.log.info(`link ${state}`);
    for (const h of this.stateHandlers) {
      try {
        h(state, reason);
      } catch (e) {
        this.log.error('state handler threw', { error: String(e) });
      }
    }
  }

  private async run(central: BleCentral): Promise<void> {
    let delay = this.cfg.reconnectMinMs;
    while (!this.closing) {
      try {
        const peripheral = await central.find();
        this.decoder.reset();
        const link = await central.connect(peripheral, (data) => this.onNotification(data));
        this.link = link;
        this.counters.inc('connects');
        this.counters.set('att_mtu', link.attMtu);
        delay = this.cfg.reconnectMinMs;
        this.setState('up', `connected to ${peripheral.address} (ATT MTU ${link.attMtu})`);
        void this.pump();
        const reason = await link.gone;
        if (this.closing) break;
        this.counters.inc('disconnects');
        this.setState('down', reason);
      } catch (e) {
        if (this.closing) break;
        const code = e instanceof AltnetError ? e.code : 'ble-error';
        this.counters.inc(code);
        this.log.warn('connection attempt failed', { code, error: e instanceof Error ? e.message : String(e) });
        this.setState('down', e instanceof Error ? e.message : String(e));
      }
      if (this.closing) break;
      this.log.info('reconnecting after backoff', { delayMs: delay });
      try {
        await central.guard(new Promise<void>((resolve) => central.timers.setTimeout(resolve, delay)));
      } catch {
        break;
      }
      delay = Math.min(delay * 2, this.cfg.reconnectMaxMs);
    }
  }

  private onNotification(data: Buffer): void {
    this.counters.inc('rx_bytes', data.length);
    const frames = this.decoder.push(data);
    const p = this.decoder.problems;
    const seen = this.seenProblems;
    if (p.garbageBytes !== seen.garbageBytes) this.counters.inc('rx_garbage_bytes', p.garbageBytes - seen.garbageBytes);
    if (p.badFrames !== seen.badFrames) this.counters.inc('rx_bad_frames', p.badFrames - seen.badFrames);
    if (p.oversize !== seen.oversize) this.counters.inc('rx_oversize', p.oversize - seen.oversize);
    if (p.nonData !== seen.nonData) this.counters.inc('rx_non_data', p.nonData - seen.nonData);
    if (p.garbageBytes + p.badFrames + p.oversize !== seen.garbageBytes + seen.badFrames + seen.oversize) {
      this.log.debug('discarded bytes from peripheral', { garbage: p.garbageBytes, bad: p.badFrames, oversize: p.oversize });
    }
    this.seenProblems = { ...p };
    for (const raw of frames) {
      const frame = this.cfg.ax25 ? this.unwrapAx25(raw) : raw;
      if (!frame || frame.length === 0) continue;
      this.counters.inc('rx_frames');
      for (const h of this.frameHandlers) {
        try {
          h(frame);
        } catch (e) {
          this.counters.inc('handler_errors');
          this.log.error('frame handler threw', { error: String(e) });
        }
      }
    }
  }

  /** The information field of an AX.25 UI frame meant for us; null (counted) for anything else. */
  private unwrapAx25(raw: Uint8Array): Uint8Array | null {
    const ax25 = this.cfg.ax25!;
    let ui;
    try {
      ui = decodeAx25Ui(raw);
    } catch (e) {
      this.counters.inc('rx_ax25_malformed');
      this.log.debug('dropped a malformed AX.25 frame', { error: e instanceof Error ? e.message : String(e) });
      return null;
    }
    if (ui.destination.call !== ax25.destination.call || ui.pid !== 0xf0) {
      this.counters.inc('rx_ax25_foreign');
      return null;
    }
    if (ax25.source && ui.source.call === ax25.source.call && ui.source.ssid === ax25.source.ssid) {
      this.counters.inc('rx_ax25_own_echo');
      return null;
    }
    return ui.info;
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    let lastLink: BleConnection | null = null;
    try {
      while (!this.closing && this.link && !this.link.ended && this.queue.length > 0) {
        const link = this.link;
        lastLink = link;
        const item = this.queue[0];
        item.attempts++;
        try {
          // A failed write ends the connection; the frame is sent again from its beginning on
          // the next one, where the peripheral's decoder starts clean.
          await link.write(item.wire);
          this.queue.shift();
          this.counters.set('tx_queue', this.queue.length);
          this.counters.inc('tx_frames');
          item.resolve();
        } catch (e) {
          this.counters.inc(e instanceof AltnetError ? e.code : 'ble-write-error');
          if (item.attempts >= this.cfg.maxSendAttempts) {
            this.queue.shift();
            this.counters.set('tx_queue', this.queue.length);
            this.counters.inc('tx_failed');
            item.reject(
              new AltnetError('ble-send-failed', `BLE link ${this.cfg.linkName}: frame not accepted after ${item.attempts} attempts`, {
                cause: e,
              }),
            );
          }
          break;
        }
      }
    } finally {
      this.pumping = false;
    }
    // A new connection may have come up while the last write on the old one was failing.
    if (!this.closing && this.link && this.link !== lastLink && !this.link.ended && this.queue.length > 0) {
      void this.pump();
    }
  }
}
