// The common machinery of every radio FrameTransport: a bounded transmit queue gated by the
// duty-cycle limiter, open/reopen of the byte channel with backoff, and recovery from modem
// faults (reset, error answers, stalls) by configuring the modem again. Dialects (KISS, RNode,
// RAK3172, RN2483, E22, Meshtastic) supply initialize/transmit/onBytes.
import type { Counters } from '../../util/counters.js';
import type { Logger } from '../../util/log.js';
import { canTransmit, type FrameTransport, type LinkCapabilities, type LinkState } from '../link.js';
import { ConfigError } from '../../util/errors.js';
import type { ByteChannel, ChannelFactory } from './channel.js';
import { systemClock, wallMs, type Clock, type TimerHandle } from '../../util/clock.js';
import { DutyCycleLimiter } from './dutycycle.js';
import { LineModem } from './lines.js';
import type { SerialSettings } from '../boards.js';
import { FrameTooLargeError, LinkClosedError, ModemResetError, QueueFullError, TransmitFailedError } from './errors.js';

export interface RadioDeps {
  log: Logger;
  /** Scoped by the caller, e.g. counters.scoped('link.lora0.'). */
  counters: Counters;
  clock?: Clock;
}

/** A device's own account of itself, for `altnet probe`. */
export interface DeviceInfo {
  firmware?: string;
  /** Settings as the device reports them (name -> value as it printed it). */
  readBack: Record<string, string | number>;
  notes?: string[];
}

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
}

export interface RadioTransportOptions {
  name: string;
  capabilities: LinkCapabilities;
  openChannel: ChannelFactory;
  /** Regional airtime rules; the limiter is built with the transport's clock. */
  duty: { dutyCycle: number; windowMs?: number; maxDwellMs?: number; burstShare?: number };
  /** Airtime of a frame of `bytes` payload bytes as the radio will send it (overhead included). */
  airtimeOf(bytes: number): number;
  /** Frames waiting for airtime; `send` rejects with QueueFullError beyond this. */
  queueLimit?: number;
  /** Attempts per frame before `send` rejects with TransmitFailedError. */
  maxAttempts?: number;
  backoff?: BackoffPolicy;
}

interface Pending {
  frame: Uint8Array;
  attempts: number;
  deferred: boolean;
  resolve(): void;
  reject(err: Error): void;
}

const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 250, maxMs: 30_000 };

export abstract class RadioTransport implements FrameTransport {
  readonly name: string;
  readonly capabilities: LinkCapabilities;
  protected readonly log: Logger;
  protected readonly counters: Counters;
  /** This radio's time (a sim link's may run faster than real time); the framed link above uses it too. */
  readonly clock: Clock;
  protected readonly limiter: DutyCycleLimiter;
  protected channel: ByteChannel | undefined;

  private readonly openChannel: ChannelFactory;
  private readonly airtimeOf: (bytes: number) => number;
  private readonly queueLimit: number;
  private readonly maxAttempts: number;
  private readonly backoff: BackoffPolicy;
  private readonly queue: Pending[] = [];
  private readonly frameHandlers: ((f: Uint8Array) => void)[] = [];
  private readonly stateHandlers: ((s: LinkState, r?: string) => void)[] = [];
  private currentState: LinkState = 'stopped';
  private opened = false;
  private pumping = false;
  private recovering = false;
  private failures = 0;
  private wake: TimerHandle | undefined;
  private retryTimer: TimerHandle | undefined;
  private firstUp: { resolve(): void; reject(e: Error): void } | undefined;

  constructor(o: RadioTransportOptions, deps: RadioDeps) {
    this.name = o.name;
    this.capabilities = o.capabilities;
    this.log = deps.log;
    this.counters = deps.counters;
    this.clock = deps.clock ?? systemClock;
    this.limiter = new DutyCycleLimiter({ ...o.duty, clock: this.clock, counters: this.counters });
    this.openChannel = o.openChannel;
    this.airtimeOf = o.airtimeOf;
    this.queueLimit = o.queueLimit ?? 64;
    this.maxAttempts = o.maxAttempts ?? 5;
    this.backoff = o.backoff ?? DEFAULT_BACKOFF;
  }

  /**
   * A line-oriented command channel (AT-style dialects) on this transport's byte channel, with
   * the board's line limits; lines that answer no command go to `onUnsolicited`.
   */
  protected lineModem(serial: SerialSettings | undefined, defaultMaxLineBytes: number, onUnsolicited: (line: string) => void): LineModem {
    return new LineModem({
      maxLineBytes: serial?.maxLineBytes ?? defaultMaxLineBytes,
      lineEnding: serial?.lineEnding ?? '\r\n',
      clock: this.clock,
      log: this.log,
      counters: this.counters,
      write: (b) => this.write(b),
      onUnsolicited,
    });
  }

  /** Configures the modem on a freshly opened channel (and after a reset). Throws on failure. */
  protected abstract initialize(): Promise<void>;
  /** Hands one frame to the radio; resolves when the modem has accepted/sent it. */
  protected abstract transmit(frame: Uint8Array): Promise<void>;
  /** Bytes from the channel. */
  protected abstract onBytes(chunk: Uint8Array): void;
  /** Fails whatever the dialect is waiting for (called on channel loss and on faults). */
  protected abstract abortPending(err: Error): void;

  /**
   * What the device says about itself once configured (`altnet probe`): firmware and the
   * settings it reports back. Dialects that can ask the device override this.
   */
  async deviceInfo(): Promise<DeviceInfo> {
    return { readBack: {}, notes: ['this device cannot be queried; the settings shown are the configured ones'] };
  }

  get state(): LinkState {
    return this.currentState;
  }

  /** Airtime of a frame of `bytes` as this radio puts it on air (what the limiter charges). */
  frameAirtimeMs(bytes: number): number {
    return this.airtimeOf(bytes);
  }

  /** The airtime rule the limiter enforces: share, window, longest single transmission. */
  get airtimeRule(): { dutyCycle: number; windowMs: number; maxDwellMs: number | undefined } {
    return { dutyCycle: this.limiter.dutyCycle, windowMs: this.limiter.windowMs, maxDwellMs: this.limiter.maxDwellMs };
  }

  /** Frames waiting to be transmitted. */
  get queued(): number {
    return this.queue.length;
  }

  onFrame(handler: (frame: Uint8Array) => void): void {
    this.frameHandlers.push(handler);
  }

  onState(handler: (state: LinkState, reason?: string) => void): void {
    this.stateHandlers.push(handler);
  }

  /** Resolves once the modem is configured; keeps retrying with backoff until then (or close). */
  open(): Promise<void> {
    if (this.opened) return Promise.resolve();
    this.opened = true;
    const p = new Promise<void>((resolve, reject) => (this.firstUp = { resolve, reject }));
    this.setState('starting');
    void this.connect();
    return p;
  }

  async close(): Promise<void> {
    if (!this.opened) return;
    this.opened = false;
    this.wake?.cancel();
    this.retryTimer?.cancel();
    const err = new LinkClosedError(`link ${this.name}`);
    this.abortPending(err);
    for (const item of this.queue.splice(0)) {
      this.counters.inc('frames_aborted');
      item.reject(err);
    }
    this.firstUp?.reject(err);
    this.firstUp = undefined;
    const ch = this.channel;
    this.channel = undefined;
    await ch?.close().catch(() => undefined);
    this.setState('stopped');
  }

  send(frame: Uint8Array): Promise<void> {
    if (!this.opened) return Promise.reject(new LinkClosedError(`link ${this.name}`));
    if (!canTransmit(this.capabilities)) {
      this.counters.inc('send_on_rx_only');
      return Promise.reject(new ConfigError('link-receive-only', `link ${this.name} is receive-only (direction=rx); it never transmits`));
    }
    if (frame.length > this.capabilities.mtu) {
      this.counters.inc('frames_too_large');
      return Promise.reject(new FrameTooLargeError(frame.length, this.capabilities.mtu));
    }
    try {
      this.limiter.validate(this.airtimeOf(frame.length));
    } catch (err) {
      this.counters.inc('frames_over_airtime_limit');
      return Promise.reject(err);
    }
    if (this.queue.length >= this.queueLimit) {
      this.counters.inc('queue_full');
      return Promise.reject(new QueueFullError(this.queueLimit));
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ frame: frame.slice(), attempts: 0, deferred: false, resolve, reject });
      this.counters.set('queue_length', this.queue.length);
      void this.pump();
    });
  }

  /** Writes raw bytes to the device. */
  protected async write(bytes: Uint8Array): Promise<void> {
    const ch = this.channel;
    if (!ch) throw new LinkClosedError(`link ${this.name}`);
    await ch.write(bytes);
  }

  /** A frame received from the radio, passed to the handlers. */
  protected deliver(frame: Uint8Array): void {
    this.counters.inc('frames_received');
    for (const h of this.frameHandlers) {
      try {
        h(frame);
      } catch (err) {
        this.log.error('frame handler threw', { error: (err as Error).message });
      }
    }
  }

  /**
   * Gauges for status: airtime used in the duty-cycle window (as of the last transmission or
   * deferral), the budget, and when the next queued frame may go (0: nothing waits for airtime).
   */
  private airtimeGauges(waitMs: number): void {
    this.counters.set('airtime_window_used_ms', Math.round(this.limiter.usedMs()));
    this.counters.set('airtime_window_budget_ms', Math.round(this.limiter.budgetMs));
    this.counters.set('airtime_window_ms', this.limiter.windowMs);
    // Wall-clock time for a person to read, also when the link runs on compressed time (the demo).
    this.counters.set('next_tx_at_ms', waitMs > 0 ? Math.round(wallMs(this.clock, this.clock.nowMs() + waitMs)) : 0);
  }

  /** Bad bytes from the device: counted and logged, never thrown. */
  protected malformed(code: string, detail: string): void {
    this.counters.inc(code);
    this.log.debug('discarded malformed input from the device', { code, detail });
  }

  /** The modem misbehaved outside a command (reset banner, reboot report): configure it again. */
  protected fault(err: Error): void {
    this.abortPending(err);
    // While opening, the failed initialize makes connect() retry; once up, recover() takes over.
    if (this.currentState === 'up') void this.recover(err);
  }

  /**
   * The modem reset itself or turned its radio off unasked (a banner, a reboot report): counted
   * once while up, however many lines announce it, then configured again (fault).
   */
  protected modemReset(reason: string): void {
    if (this.currentState === 'up') this.counters.inc('modem_resets');
    this.fault(new ModemResetError(reason));
  }

  protected delayMs(attempt: number): number {
    return Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** Math.min(attempt, 20));
  }

  protected sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.clock.after(ms, resolve));
  }

  private setState(s: LinkState, reason?: string): void {
    if (s === this.currentState && !reason) return;
    this.currentState = s;
    for (const h of this.stateHandlers) h(s, reason);
  }

  private async connect(): Promise<void> {
    while (this.opened) {
      try {
        const ch = await this.openChannel();
        if (!this.opened) {
          await ch.close();
          return;
        }
        this.channel = ch;
        ch.onData((chunk) => {
          if (this.channel === ch) this.onBytes(chunk);
        });
        ch.onClose((reason) => {
          if (this.channel === ch) this.lost(reason);
        });
        this.log.info('channel open', { channel: ch.description });
        await this.initialize();
        this.up();
        return;
      } catch (err) {
        const reason = (err as Error).message;
        this.counters.inc('open_failures');
        const wait = this.delayMs(this.failures++);
        this.log.warn('could not open the radio; retrying', { reason, retryMs: wait });
        this.setState('down', reason);
        const ch = this.channel;
        this.channel = undefined;
        await ch?.close().catch(() => undefined);
        if (!this.opened) return;
        await new Promise<void>((resolve) => (this.retryTimer = this.clock.after(wait, resolve)));
      }
    }
  }

  private up(): void {
    this.failures = 0;
    this.setState('up');
    this.firstUp?.resolve();
    this.firstUp = undefined;
    void this.pump();
  }

  private lost(reason: string): void {
    this.counters.inc('channel_lost');
    this.log.warn('channel lost; reopening', { reason });
    this.channel = undefined;
    this.abortPending(new LinkClosedError(`link ${this.name} (${reason})`));
    this.setState('down', reason);
    if (this.opened && !this.recovering) void this.connect();
  }

  /** Re-runs initialize on the open channel with backoff until it works or the channel is lost. */
  private async recover(err: Error): Promise<void> {
    if (this.recovering || !this.opened) return;
    this.recovering = true;
    const code = (err as { code?: string }).code ?? 'fault';
    this.counters.inc(`recover.${code}`);
    this.setState('degraded', err.message);
    try {
      let attempt = 0;
      while (this.opened && this.channel) {
        const wait = this.delayMs(attempt++);
        this.log.warn('modem fault; configuring it again', { reason: err.message, retryMs: wait });
        await this.sleep(wait);
        if (!this.opened || !this.channel) break;
        try {
          await this.initialize();
          this.log.info('modem configured again');
          this.recovering = false;
          this.up();
          return;
        } catch (e) {
          err = e as Error;
          this.counters.inc('recover_failures');
        }
      }
    } finally {
      this.recovering = false;
    }
    if (this.opened && !this.channel) void this.connect();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.queue.length && this.currentState === 'up' && this.opened) {
        const item = this.queue[0];
        const airtime = this.airtimeOf(item.frame.length);
        const adm = this.limiter.admit(airtime);
        if (!adm.ok) {
          if (!item.deferred) {
            item.deferred = true;
            this.counters.inc('frames_deferred');
            // Say plainly why nothing goes out (the limiter, not a fault) and when it will.
            this.log.info('airtime budget used up; frame waits', {
              // Wall-clock time and seconds, also on a compressed clock (the demo's --timescale).
              nextFrameAt: new Date(wallMs(this.clock, this.clock.nowMs() + adm.waitMs)).toISOString(),
              waitS: Math.round((wallMs(this.clock, this.clock.nowMs() + adm.waitMs) - wallMs(this.clock, this.clock.nowMs())) / 100) / 10,
              usedMs: Math.round(this.limiter.usedMs()),
              budgetMs: Math.round(this.limiter.budgetMs),
              queued: this.queue.length,
            });
          }
          this.wake?.cancel();
          this.wake = this.clock.after(adm.waitMs, () => void this.pump());
          this.airtimeGauges(adm.waitMs);
          return;
        }
        this.limiter.record(airtime);
        this.airtimeGauges(0);
        try {
          item.attempts++;
          await this.transmit(item.frame);
          this.queue.shift();
          this.counters.inc('frames_sent');
          this.counters.set('queue_length', this.queue.length);
          item.resolve();
        } catch (err) {
          const reason = (err as Error).message;
          this.counters.inc('transmit_failures');
          this.log.warn('transmission failed', { reason, attempt: item.attempts });
          if (item.attempts >= this.maxAttempts) {
            this.queue.shift();
            this.counters.inc('frames_failed');
            this.counters.set('queue_length', this.queue.length);
            item.reject(new TransmitFailedError(item.attempts, reason));
          }
          if (this.opened && this.channel) void this.recover(err as Error);
          return;
        }
      }
    } finally {
      this.pumping = false;
    }
  }
}
