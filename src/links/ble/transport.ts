// Bluetooth LE link, central role, through noble: finds a peripheral by name or address, connects,
// negotiates the ATT MTU, finds the service's write and notify characteristics, and then moves
// frames: each outgoing frame is framed (KISS or length prefix), split into writes of
// (ATT MTU - 3) bytes, and written with response (the response is our flow control); incoming
// notifications are fed to a bounded stream decoder. When the link drops it scans and connects
// again with exponential backoff; frames queued meanwhile wait (bounded) and go out on the next
// connection.
import { AltnetError, InvalidDataError } from '../../util/errors.js';
import type { Logger } from '../../util/log.js';
import type { Counters } from '../../util/counters.js';
import type { FrameTransport, LinkCapabilities, LinkState } from '../link.js';
import {
  chunk,
  kissEncode,
  KissStreamDecoder,
  lengthPrefixEncode,
  LengthPrefixDecoder,
  type DecodeProblems,
  type StreamDecoder,
} from './framing.js';
import {
  guardHciInput,
  realNoble,
  type CharacteristicLike,
  type HciSelection,
  type NobleFactory,
  type NobleLike,
  type PeripheralLike,
} from './noble.js';

export interface BleServiceProfile {
  /** 128-bit UUIDs, lower-case, dashes allowed. */
  service: string;
  /** Characteristic the central writes (the device's RX). */
  write: string;
  /** Characteristic the device notifies on (the device's TX). */
  notify: string;
  framing: 'kiss' | 'length-prefix';
}

/** BLE KISS API (Mobilinkd TNC3/TNC4, PicoAPRS, aprs.fi): KISS bytes both ways. */
export const KISS_SERVICE: BleServiceProfile = {
  service: '00000001-ba2a-46c9-ae49-01b0961f68bb',
  write: '00000002-ba2a-46c9-ae49-01b0961f68bb',
  notify: '00000003-ba2a-46c9-ae49-01b0961f68bb',
  framing: 'kiss',
};

/** Nordic UART Service: RX 6e400002 (write), TX 6e400003 (notify); our length-prefixed framing. */
export const NUS_SERVICE: BleServiceProfile = {
  service: '6e400001-b5a3-f393-e0a9-e50e24dcca9e',
  write: '6e400002-b5a3-f393-e0a9-e50e24dcca9e',
  notify: '6e400003-b5a3-f393-e0a9-e50e24dcca9e',
  framing: 'length-prefix',
};

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  now(): number;
}

export const realTimers: Timers = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
  now: () => performance.now(),
};

export interface BleTransportConfig {
  /** Link name (`ble0`), for logs and errors. */
  linkName: string;
  profile: BleServiceProfile;
  /** Match on the advertised local name (exact). */
  peripheralName?: string;
  /** Match on the device address, "aa:bb:cc:dd:ee:ff" lower-case. */
  address?: string;
  hci: HciSelection;
  capabilities: LinkCapabilities;
  /** ATT MTU we ask for; the link uses min(ours, the peripheral's). */
  attMtu: number;
  adapterTimeoutMs: number;
  scanTimeoutMs: number;
  /** Connect, service discovery and subscription, all together. */
  connectTimeoutMs: number;
  /** One GATT write, request to response. */
  writeTimeoutMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  maxQueuedFrames: number;
  /** Attempts (each on a fresh connection) before a frame that keeps failing is given up. */
  maxSendAttempts: number;
}

export const BLE_DEFAULTS = {
  attMtu: 247,
  adapterTimeoutMs: 10_000,
  scanTimeoutMs: 30_000,
  connectTimeoutMs: 15_000,
  writeTimeoutMs: 5_000,
  reconnectMinMs: 500,
  reconnectMaxMs: 60_000,
  maxQueuedFrames: 64,
  maxSendAttempts: 3,
} as const;

export interface BleTransportDeps {
  log: Logger;
  counters: Counters;
  timers?: Timers;
  /** Makes the noble instance; tests and non-default controllers pass their own. */
  noble?: NobleFactory;
}

interface PendingFrame {
  wire: Uint8Array;
  attempts: number;
  resolve(): void;
  reject(e: Error): void;
}

interface ActiveLink {
  peripheral: PeripheralLike;
  write: CharacteristicLike;
  notify: CharacteristicLike;
  withoutResponse: boolean;
  attMtu: number;
  /** Resolves (never rejects) when the link is gone, with the reason. */
  gone: Promise<string>;
  end(reason: string): void;
  ended: boolean;
}

/** noble's UUID spelling: lower-case hex, no dashes. */
function nobleUuid(uuid: string): string {
  return uuid.replace(/-/g, '').toLowerCase();
}

export class BleTransport implements FrameTransport {
  readonly capabilities: LinkCapabilities;
  private readonly log: Logger;
  private readonly counters: Counters;
  private readonly timers: Timers;
  private readonly makeNoble: NobleFactory;
  private readonly decoder: StreamDecoder;
  private readonly frameHandlers: ((frame: Uint8Array) => void)[] = [];
  private readonly stateHandlers: ((state: LinkState, reason?: string) => void)[] = [];
  private readonly queue: PendingFrame[] = [];
  private noble: NobleLike | null = null;
  private link: ActiveLink | null = null;
  private loop: Promise<void> | null = null;
  private closing = false;
  private closedSignal: Promise<never> | null = null;
  private signalClosed: ((e: Error) => void) | null = null;
  private pumping = false;
  private currentState: LinkState = 'stopped';
  private seenProblems: DecodeProblems = { garbageBytes: 0, badFrames: 0, oversize: 0, nonData: 0 };

  constructor(
    private readonly cfg: BleTransportConfig,
    deps: BleTransportDeps,
  ) {
    this.capabilities = cfg.capabilities;
    this.log = deps.log;
    this.counters = deps.counters;
    this.timers = deps.timers ?? realTimers;
    this.makeNoble = deps.noble ?? realNoble;
    const maxPayload = cfg.capabilities.mtu;
    this.decoder =
      cfg.profile.framing === 'kiss' ? new KissStreamDecoder(maxPayload) : new LengthPrefixDecoder(maxPayload);
  }

  get state(): LinkState {
    return this.currentState;
  }

  /** ATT MTU in use on the current connection, or null when not connected. */
  get attMtu(): number | null {
    return this.link?.attMtu ?? null;
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
    if (this.noble) throw new AltnetError('ble_already_open', `BLE link ${this.cfg.linkName} is already open`);
    this.closing = false;
    this.closedSignal = new Promise<never>((_, reject) => {
      this.signalClosed = reject;
    });
    this.closedSignal.catch(() => {});
    this.setState('starting');
    let noble: NobleLike;
    try {
      noble = this.makeNoble(this.cfg.hci);
    } catch (e) {
      this.counters.inc('adapter_failures');
      this.setState('down', 'noble could not start');
      throw new AltnetError(
        'ble_adapter',
        `BLE link ${this.cfg.linkName}: noble could not start on ${describeHci(this.cfg.hci)}: ` +
          `${e instanceof Error ? e.message : String(e)}`,
        { cause: e },
      );
    }
    this.noble = noble;
    const guarded = guardHciInput(noble, (error, packet) => {
      this.counters.inc('hci_malformed');
      this.log.warn('dropped a malformed HCI packet', { error: error.message, packet: packet.subarray(0, 64).toString('hex') });
    });
    if (!guarded) this.log.debug('noble does not use HCI bindings here; malformed-input guard not installed');
    noble.on('stateChange', (s: string) => this.log.debug('adapter state', { state: s }));
    try {
      await this.guard(
        this.withTimeout(noble.waitForPoweredOnAsync(this.cfg.adapterTimeoutMs), this.cfg.adapterTimeoutMs, 'adapter'),
      );
    } catch (e) {
      if (this.closing) {
        this.shutdownNoble();
        throw new AltnetError('ble_closed', `BLE link ${this.cfg.linkName} was closed while opening`);
      }
      this.counters.inc('adapter_failures');
      this.shutdownNoble();
      this.setState('down', 'adapter not powered on');
      throw new AltnetError(
        'ble_adapter',
        `BLE link ${this.cfg.linkName}: the Bluetooth adapter (${describeHci(this.cfg.hci)}) did not power on within ` +
          `${this.cfg.adapterTimeoutMs} ms (state ${noble.state}); check that the controller is present, not used by ` +
          `another program, and that this process may open it`,
        { cause: e },
      );
    }
    this.loop = this.run();
  }

  async close(): Promise<void> {
    if (!this.noble) {
      if (this.currentState !== 'stopped') this.setState('stopped');
      return;
    }
    this.closing = true;
    this.signalClosed?.(new AltnetError('ble_closed', `BLE link ${this.cfg.linkName} was closed`));
    const link = this.link;
    if (link && !link.ended) {
      // Tell the peripheral we are leaving rather than letting it wait for a supervision timeout.
      try {
        await this.withTimeout(link.peripheral.disconnectAsync(), 2_000, 'disconnect');
      } catch {
        // Closing anyway.
      }
      link.end('closed');
    }
    try {
      await this.loop;
    } catch {
      // run() does not throw, but close must finish whatever happened.
    }
    this.loop = null;
    for (const f of this.queue.splice(0)) {
      f.reject(new AltnetError('ble_closed', `BLE link ${this.cfg.linkName} closed before the frame was sent`));
    }
    this.shutdownNoble();
    this.setState('stopped');
  }

  send(frame: Uint8Array): Promise<void> {
    if (!this.noble || this.closing) {
      return Promise.reject(new AltnetError('ble_closed', `BLE link ${this.cfg.linkName} is not open`));
    }
    if (frame.length > this.capabilities.mtu) {
      this.counters.inc('tx_too_large');
      return Promise.reject(
        new InvalidDataError(
          'ble_frame_too_large',
          `frame of ${frame.length} bytes exceeds the BLE link ${this.cfg.linkName} MTU of ${this.capabilities.mtu}`,
        ),
      );
    }
    if (this.queue.length >= this.cfg.maxQueuedFrames) {
      this.counters.inc('tx_queue_full');
      return Promise.reject(
        new AltnetError(
          'ble_queue_full',
          `BLE link ${this.cfg.linkName}: ${this.queue.length} frames already wait to be sent ` +
            `(link ${this.currentState}); retry later`,
        ),
      );
    }
    const wire = this.cfg.profile.framing === 'kiss' ? kissEncode(frame) : lengthPrefixEncode(frame);
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

  private shutdownNoble(): void {
    const noble = this.noble;
    this.noble = null;
    if (!noble) return;
    try {
      noble.stop();
    } catch (e) {
      this.log.warn('noble stop failed', { error: String(e) });
    }
    noble.removeAllListeners();
  }

  /** Rejects as soon as close() is called, so no await in the connect loop outlives the link. */
  private guard<T>(p: Promise<T>): Promise<T> {
    if (!this.closedSignal) return p;
    return Promise.race([p, this.closedSignal]);
  }

  private withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const t = this.timers.setTimeout(
        () =>
          reject(
            new AltnetError(
              `ble_${what}_timeout`,
              `BLE link ${this.cfg.linkName}: ${what} did not complete within ${ms} ms`,
            ),
          ),
        ms,
      );
      p.then(
        (v) => {
          this.timers.clearTimeout(t);
          resolve(v);
        },
        (e: unknown) => {
          this.timers.clearTimeout(t);
          reject(e instanceof Error ? e : new Error(String(e)));
        },
      );
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => this.timers.setTimeout(resolve, ms));
  }

  private async run(): Promise<void> {
    let delay = this.cfg.reconnectMinMs;
    while (!this.closing) {
      try {
        const peripheral = await this.guard(this.scan());
        const link = await this.guard(this.connect(peripheral));
        this.link = link;
        this.counters.inc('connects');
        this.counters.set('att_mtu', link.attMtu);
        delay = this.cfg.reconnectMinMs;
        this.setState('up', `connected to ${peripheral.address} (ATT MTU ${link.attMtu})`);
        void this.pump();
        const reason = await link.gone;
        this.link = null;
        if (this.closing) break;
        this.counters.inc('disconnects');
        this.setState('down', reason);
      } catch (e) {
        this.link = null;
        if (this.closing) break;
        const code = e instanceof AltnetError ? e.code : 'ble_error';
        this.counters.inc(code);
        this.log.warn('connection attempt failed', { code, error: e instanceof Error ? e.message : String(e) });
        this.setState('down', e instanceof Error ? e.message : String(e));
      }
      if (this.closing) break;
      this.log.info('reconnecting after backoff', { delayMs: delay });
      try {
        await this.guard(this.sleep(delay));
      } catch {
        break;
      }
      delay = Math.min(delay * 2, this.cfg.reconnectMaxMs);
    }
  }

  private matches(p: PeripheralLike): boolean {
    if (this.cfg.address && p.address.toLowerCase() !== this.cfg.address) return false;
    if (this.cfg.peripheralName && p.advertisement?.localName !== this.cfg.peripheralName) return false;
    return true;
  }

  private async scan(): Promise<PeripheralLike> {
    const noble = this.noble;
    if (!noble) throw new AltnetError('ble_closed', 'closed');
    let onDiscover: ((p: PeripheralLike) => void) | null = null;
    const found = new Promise<PeripheralLike>((resolve) => {
      onDiscover = (p: PeripheralLike) => {
        if (this.matches(p)) resolve(p);
      };
      noble.on('discover', onDiscover);
    });
    try {
      // No service filter: some devices advertise only their name and keep the 128-bit UUID for
      // the scan response or not at all. Duplicates allowed, so a device seen before shows again.
      await this.withTimeout(noble.startScanningAsync([], true), this.cfg.adapterTimeoutMs, 'scan_start');
      return await this.withTimeout(found, this.cfg.scanTimeoutMs, 'scan');
    } finally {
      if (onDiscover) noble.removeListener('discover', onDiscover);
      // On close, noble.stop() ends the scan itself; the HCI link may already be gone.
      if (!this.closing) {
        try {
          await this.withTimeout(noble.stopScanningAsync(), this.cfg.adapterTimeoutMs, 'scan_stop');
        } catch (e) {
          this.log.debug('stop scanning failed', { error: String(e) });
        }
      }
    }
  }

  private async connect(p: PeripheralLike): Promise<ActiveLink> {
    let endLink: (reason: string) => void = () => {};
    const gone = new Promise<string>((resolve) => {
      endLink = resolve;
    });
    let disconnected = false;
    const onDisconnect = (reason: number | string): void => {
      disconnected = true;
      link.end(typeof reason === 'number' ? `disconnected (HCI reason 0x${reason.toString(16)})` : `disconnected (${reason})`);
    };
    const link: ActiveLink = {
      peripheral: p,
      write: null as unknown as CharacteristicLike,
      notify: null as unknown as CharacteristicLike,
      withoutResponse: false,
      attMtu: 23,
      gone,
      ended: false,
      end: (reason: string) => {
        if (link.ended) return;
        link.ended = true;
        p.removeListener('disconnect', onDisconnect);
        link.notify?.removeAllListeners('data');
        if (!disconnected) {
          // We are the ones giving up on this connection (timeout, bad GATT): drop it at the radio.
          if (p.state === 'connecting') p.cancelConnect();
          else p.disconnectAsync().catch(() => {});
        }
        endLink(reason);
      },
    };

    const setup = async (): Promise<void> => {
      this.log.info('connecting', { address: p.address, name: p.advertisement?.localName });
      await p.connectAsync({ mtu: this.cfg.attMtu });
      p.once('disconnect', onDisconnect);
      let characteristics: CharacteristicLike[];
      try {
        ({ characteristics } = await p.discoverSomeServicesAndCharacteristicsAsync(
          [nobleUuid(this.cfg.profile.service)],
          [nobleUuid(this.cfg.profile.write), nobleUuid(this.cfg.profile.notify)],
        ));
      } catch (e) {
        // noble rejects with a bare string when the service is absent.
        const msg = e instanceof Error ? e.message : String(e);
        if (disconnected) throw new AltnetError('ble_disconnected', `disconnected during service discovery: ${msg}`);
        throw new AltnetError(
          /could not find/i.test(msg) ? 'ble_gatt_missing' : 'ble_gatt_error',
          `BLE link ${this.cfg.linkName}: ${p.address} does not offer service ${this.cfg.profile.service} (${msg}); ` +
            `check link.${this.cfg.linkName}.service and which device link.${this.cfg.linkName}.name/address selects`,
        );
      }
      const write = characteristics.find((c) => c.uuid === nobleUuid(this.cfg.profile.write));
      const notify = characteristics.find((c) => c.uuid === nobleUuid(this.cfg.profile.notify));
      if (!write || !notify) {
        throw new AltnetError(
          'ble_gatt_missing',
          `BLE link ${this.cfg.linkName}: ${p.address} has no ${!write ? 'write' : 'notify'} characteristic ` +
            `${!write ? this.cfg.profile.write : this.cfg.profile.notify} in service ${this.cfg.profile.service}; ` +
            `check link.${this.cfg.linkName}.service`,
        );
      }
      const canWrite = write.properties.includes('write');
      if (!canWrite && !write.properties.includes('writeWithoutResponse')) {
        throw new AltnetError('ble_gatt_missing', `BLE link ${this.cfg.linkName}: characteristic ${write.uuid} is not writable`);
      }
      link.write = write;
      link.notify = notify;
      // Write with response when we can: the response paces us to what the peripheral absorbs.
      link.withoutResponse = !canWrite;
      this.decoder.reset();
      notify.on('data', (data: Buffer) => this.onNotification(link, data));
      await notify.subscribeAsync();
      // noble records the MTU the server answered; both sides use the smaller of the two.
      link.attMtu = Math.max(23, Math.min(p.mtu ?? 23, this.cfg.attMtu));
    };

    try {
      await this.withTimeout(Promise.race([setup(), gone.then((r) => Promise.reject(new AltnetError('ble_disconnected', r)))]), this.cfg.connectTimeoutMs, 'connect');
    } catch (e) {
      link.end(e instanceof Error ? e.message : String(e));
      throw e;
    }
    return link;
  }

  private onNotification(link: ActiveLink, data: Buffer): void {
    if (link !== this.link && this.link !== null) return;
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
    for (const frame of frames) {
      if (frame.length === 0) continue;
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

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    let lastLink: ActiveLink | null = null;
    try {
      while (!this.closing && this.link && !this.link.ended && this.queue.length > 0) {
        const link = this.link;
        lastLink = link;
        const item = this.queue[0];
        item.attempts++;
        try {
          for (const piece of chunk(item.wire, link.attMtu - 3)) {
            await this.withTimeout(
              Promise.race([
                link.write.writeAsync(Buffer.from(piece), link.withoutResponse),
                link.gone.then((r) => Promise.reject(new AltnetError('ble_disconnected', r))),
              ]),
              this.cfg.writeTimeoutMs,
              'write',
            );
            this.counters.inc('tx_writes');
            this.counters.inc('tx_bytes', piece.length);
          }
          this.queue.shift();
          this.counters.set('tx_queue', this.queue.length);
          this.counters.inc('tx_frames');
          item.resolve();
        } catch (e) {
          const code = e instanceof AltnetError ? e.code : 'ble_write_error';
          this.counters.inc(code);
          if (item.attempts >= this.cfg.maxSendAttempts) {
            this.queue.shift();
            this.counters.set('tx_queue', this.queue.length);
            this.counters.inc('tx_failed');
            item.reject(
              new AltnetError(
                'ble_send_failed',
                `BLE link ${this.cfg.linkName}: frame not accepted after ${item.attempts} attempts`,
                { cause: e },
              ),
            );
          }
          // A write that failed or timed out leaves the peripheral's stream in an unknown state:
          // start over on a fresh connection, where the frame is sent again from its beginning.
          link.end(`write failed: ${e instanceof Error ? e.message : String(e)}`);
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

function describeHci(hci: HciSelection): string {
  switch (hci.kind) {
    case 'uart':
      return `HCI UART ${hci.port} at ${hci.baudRate} baud`;
    case 'device':
      return `hci${hci.deviceId}`;
    case 'default':
      return 'default controller';
  }
}
