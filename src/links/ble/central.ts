// One noble instance in the central role and what a BLE link does with it: bring the adapter up,
// find the configured peripheral, connect, find the write and notify characteristics, subscribe,
// and write bytes in pieces of (ATT MTU - 3). Shared by the frame transport (BleTransport) and the
// byte channel (bleChannelFactory) that lets the KISS/AX.25 radio transport run over BLE.
import { AltnetError } from '../../util/errors.js';
import type { Logger } from '../../util/log.js';
import type { Counters } from '../../util/counters.js';
import { chunk } from './framing.js';
import { realTimers, type Timers } from '../../util/clock.js';
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
  framing: 'kiss' | 'length-prefix' | 'meshtastic';
  /** A characteristic the central reads (Meshtastic FromRadio). */
  read?: string;
  /** Each write must go as one GATT write (a Meshtastic ToRadio is one protobuf). */
  wholeWrites?: boolean;
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

export { realTimers, type Timers };

export interface BleCentralConfig {
  /** Link name (`ble0`), for logs and errors. */
  linkName: string;
  profile: BleServiceProfile;
  /** Match on the advertised local name (exact). */
  peripheralName?: string;
  /** Match on the device address, "aa:bb:cc:dd:ee:ff" lower-case. */
  address?: string;
  hci: HciSelection;
  /** ATT MTU we ask for; the link uses min(ours, the peripheral's). */
  attMtu: number;
  adapterTimeoutMs: number;
  scanTimeoutMs: number;
  /** Connect, service discovery and subscription, all together. */
  connectTimeoutMs: number;
  /** One GATT write, request to response. */
  writeTimeoutMs: number;
}

export interface BleCentralDeps {
  log: Logger;
  counters: Counters;
  timers?: Timers;
  /** Makes the noble instance; tests and non-default controllers pass their own. */
  noble?: NobleFactory;
}

export interface BleConnection {
  readonly peripheral: PeripheralLike;
  /** ATT MTU both sides use. */
  readonly attMtu: number;
  /** Resolves (never rejects) with the reason once the connection is gone. */
  readonly gone: Promise<string>;
  readonly ended: boolean;
  /**
   * Writes bytes as GATT writes of at most ATT MTU - 3 bytes, in order (concurrent calls queue).
   * Rejects on a write timeout (and ends the connection: the peripheral's stream is then in an
   * unknown state) or when the connection goes away.
   */
  write(bytes: Uint8Array): Promise<void>;
  /** Reads the profile's read characteristic (GATT read); rejects when it has none. */
  read(): Promise<Buffer>;
  /** Gives up on the connection: drops it at the radio if it is still up. */
  end(reason: string): void;
  /** Orderly disconnect, waiting at most `ms` for the controller to confirm. */
  disconnect(ms: number): Promise<void>;
}

/** noble's UUID spelling: lower-case hex, no dashes. */
function nobleUuid(uuid: string): string {
  return uuid.replace(/-/g, '').toLowerCase();
}

export function describeHci(hci: HciSelection): string {
  switch (hci.kind) {
    case 'uart':
      return `HCI UART ${hci.port} at ${hci.baudRate} baud`;
    case 'device':
      return `hci${hci.deviceId}`;
    case 'default':
      return 'default controller';
  }
}

export class BleCentral {
  private readonly log: Logger;
  private readonly counters: Counters;
  readonly timers: Timers;
  private readonly makeNoble: NobleFactory;
  private noble: NobleLike | null = null;
  private stopped = false;
  private readonly stoppedSignal: Promise<never>;
  private signalStopped: (e: Error) => void = () => {};

  constructor(
    private readonly cfg: BleCentralConfig,
    deps: BleCentralDeps,
  ) {
    this.log = deps.log;
    this.counters = deps.counters;
    this.timers = deps.timers ?? realTimers;
    this.makeNoble = deps.noble ?? realNoble;
    this.stoppedSignal = new Promise<never>((_, reject) => {
      this.signalStopped = reject;
    });
    this.stoppedSignal.catch(() => {});
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Makes the noble instance and waits for the adapter to power on. */
  async start(): Promise<void> {
    let noble: NobleLike;
    try {
      noble = this.makeNoble(this.cfg.hci);
    } catch (e) {
      this.counters.inc('adapter_failures');
      throw new AltnetError(
        'ble-adapter',
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
      await this.guard(this.withTimeout(noble.waitForPoweredOnAsync(this.cfg.adapterTimeoutMs), this.cfg.adapterTimeoutMs, 'adapter'));
    } catch (e) {
      this.stop();
      if (e instanceof AltnetError && e.code === 'ble-closed') throw e;
      this.counters.inc('adapter_failures');
      throw new AltnetError(
        'ble-adapter',
        `BLE link ${this.cfg.linkName}: the Bluetooth adapter (${describeHci(this.cfg.hci)}) did not power on within ` +
          `${this.cfg.adapterTimeoutMs} ms (state ${noble.state}); check that the controller is present, not used by ` +
          `another program, and that this process may open it`,
        { cause: e },
      );
    }
  }

  /** Stops noble; every pending operation of this central rejects with ble_closed. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.signalStopped(new AltnetError('ble-closed', `BLE link ${this.cfg.linkName} was closed`));
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

  /** Rejects with ble_closed as soon as stop() is called. */
  guard<T>(p: Promise<T>): Promise<T> {
    return Promise.race([p, this.stoppedSignal]);
  }

  withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const t = this.timers.setTimeout(
        () => reject(new AltnetError(`ble-${what}-timeout`, `BLE link ${this.cfg.linkName}: ${what} did not complete within ${ms} ms`)),
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

  private matches(p: PeripheralLike): boolean {
    if (this.cfg.address && p.address.toLowerCase() !== this.cfg.address) return false;
    if (this.cfg.peripheralName && p.advertisement?.localName !== this.cfg.peripheralName) return false;
    return true;
  }

  /** Scans until the configured peripheral shows up (ble_scan_timeout after scanTimeoutMs). */
  async find(): Promise<PeripheralLike> {
    return this.guard(this.scan());
  }

  private async scan(): Promise<PeripheralLike> {
    const noble = this.noble;
    if (!noble) throw new AltnetError('ble-closed', `BLE link ${this.cfg.linkName} is not started`);
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
      await this.withTimeout(noble.startScanningAsync([], true), this.cfg.adapterTimeoutMs, 'scan-start');
      return await this.withTimeout(found, this.cfg.scanTimeoutMs, 'scan');
    } finally {
      if (onDiscover) noble.removeListener('discover', onDiscover);
      // After stop(), noble.stop() has ended the scan itself; the HCI link may already be gone.
      if (!this.stopped) {
        try {
          await this.withTimeout(noble.stopScanningAsync(), this.cfg.adapterTimeoutMs, 'scan-stop');
        } catch (e) {
          this.log.debug('stop scanning failed', { error: String(e) });
        }
      }
    }
  }

  /**
   * Connects, discovers the service's characteristics, subscribes to notifications (handed to
   * onBytes as they come) and settles the ATT MTU; ble_connect_timeout after connectTimeoutMs.
   */
  async connect(p: PeripheralLike, onBytes: (data: Buffer) => void): Promise<BleConnection> {
    return this.guard(this.establish(p, onBytes));
  }

  private async establish(p: PeripheralLike, onBytes: (data: Buffer) => void): Promise<BleConnection> {
    const cfg = this.cfg;
    let endLink: (reason: string) => void = () => {};
    const gone = new Promise<string>((resolve) => {
      endLink = resolve;
    });
    const goneError = gone.then((r) => Promise.reject(new AltnetError('ble-disconnected', r)));
    goneError.catch(() => {});
    let disconnected = false;
    let ended = false;
    let write: CharacteristicLike | null = null;
    let notify: CharacteristicLike | null = null;
    let readable: CharacteristicLike | null = null;
    let withoutResponse = false;
    let attMtu = 23;
    let tail: Promise<void> = Promise.resolve();

    const end = (reason: string): void => {
      if (ended) return;
      ended = true;
      p.removeListener('disconnect', onDisconnect);
      notify?.removeAllListeners('data');
      if (!disconnected && !this.stopped) {
        // We are the ones giving up on this connection (timeout, bad GATT): drop it at the radio.
        if (p.state === 'connecting') p.cancelConnect();
        else p.disconnectAsync().catch(() => {});
      }
      endLink(reason);
    };
    const onDisconnect = (reason: number | string): void => {
      disconnected = true;
      end(typeof reason === 'number' ? `disconnected (HCI reason 0x${reason.toString(16)})` : `disconnected (${reason})`);
    };

    const writeNow = async (bytes: Uint8Array): Promise<void> => {
      if (ended || !write) throw new AltnetError('ble-disconnected', `BLE link ${cfg.linkName}: not connected`);
      const w = write;
      if (cfg.profile.wholeWrites && bytes.length > attMtu - 3) {
        throw new AltnetError(
          'ble-write-too-large',
          `BLE link ${cfg.linkName}: ${bytes.length} bytes do not fit one write at ATT MTU ${attMtu}; raise link.${cfg.linkName}.att_mtu`,
        );
      }
      for (const piece of chunk(bytes, attMtu - 3)) {
        try {
          await this.withTimeout(Promise.race([w.writeAsync(Buffer.from(piece), withoutResponse), goneError]), cfg.writeTimeoutMs, 'write');
        } catch (e) {
          // The peripheral's byte stream is now in an unknown state: this connection is done.
          end(`write failed: ${e instanceof Error ? e.message : String(e)}`);
          throw e;
        }
        this.counters.inc('tx_writes');
        this.counters.inc('tx_bytes', piece.length);
      }
    };

    const connection: BleConnection = {
      peripheral: p,
      get attMtu() {
        return attMtu;
      },
      gone,
      get ended() {
        return ended;
      },
      write: (bytes) => {
        const next = tail.then(() => writeNow(bytes));
        tail = next.catch(() => {});
        return next;
      },
      read: async () => {
        if (ended || !readable) throw new AltnetError('ble-disconnected', `BLE link ${cfg.linkName}: not connected or nothing to read`);
        const r = readable;
        const next = tail.then(() => this.withTimeout(Promise.race([r.readAsync(), goneError]), cfg.writeTimeoutMs, 'read'));
        tail = next.then(
          () => undefined,
          () => undefined,
        );
        return next;
      },
      end,
      disconnect: async (ms) => {
        if (ended) return;
        if (!disconnected && !this.stopped) {
          try {
            await this.withTimeout(p.disconnectAsync(), ms, 'disconnect');
          } catch {
            // Going anyway.
          }
        }
        end('closed');
      },
    };

    const setup = async (): Promise<void> => {
      this.log.info('connecting', { address: p.address, name: p.advertisement?.localName });
      await p.connectAsync({ mtu: cfg.attMtu });
      p.once('disconnect', onDisconnect);
      let characteristics: CharacteristicLike[];
      try {
        ({ characteristics } = await p.discoverSomeServicesAndCharacteristicsAsync(
          [nobleUuid(cfg.profile.service)],
          [nobleUuid(cfg.profile.write), nobleUuid(cfg.profile.notify), ...(cfg.profile.read ? [nobleUuid(cfg.profile.read)] : [])],
        ));
      } catch (e) {
        // noble rejects with a bare string when the service is absent.
        const msg = e instanceof Error ? e.message : String(e);
        if (disconnected) throw new AltnetError('ble-disconnected', `disconnected during service discovery: ${msg}`);
        throw new AltnetError(
          /could not find/i.test(msg) ? 'ble-gatt-missing' : 'ble-gatt-error',
          `BLE link ${cfg.linkName}: ${p.address} does not offer service ${cfg.profile.service} (${msg}); ` +
            `check link.${cfg.linkName}.service and which device link.${cfg.linkName}.name/address selects`,
        );
      }
      const w = characteristics.find((c) => c.uuid === nobleUuid(cfg.profile.write));
      const n = characteristics.find((c) => c.uuid === nobleUuid(cfg.profile.notify));
      if (!w || !n) {
        throw new AltnetError(
          'ble-gatt-missing',
          `BLE link ${cfg.linkName}: ${p.address} has no ${!w ? 'write' : 'notify'} characteristic ` +
            `${!w ? cfg.profile.write : cfg.profile.notify} in service ${cfg.profile.service}; ` +
            `check link.${cfg.linkName}.service`,
        );
      }
      const canWrite = w.properties.includes('write');
      if (!canWrite && !w.properties.includes('writeWithoutResponse')) {
        throw new AltnetError('ble-gatt-missing', `BLE link ${cfg.linkName}: characteristic ${w.uuid} is not writable`);
      }
      if (cfg.profile.read) {
        readable = characteristics.find((c) => c.uuid === nobleUuid(cfg.profile.read!)) ?? null;
        if (!readable)
          throw new AltnetError(
            'ble-gatt-missing',
            `BLE link ${cfg.linkName}: ${p.address} has no read characteristic ${cfg.profile.read}`,
          );
      }
      write = w;
      notify = n;
      // Write with response when we can: the response paces us to what the peripheral absorbs.
      withoutResponse = !canWrite;
      n.on('data', (data: Buffer) => {
        if (!ended) onBytes(data);
      });
      await n.subscribeAsync();
      // noble records the MTU the server answered; both sides use the smaller of the two.
      attMtu = Math.max(23, Math.min(p.mtu ?? 23, cfg.attMtu));
    };

    try {
      await this.withTimeout(Promise.race([setup(), goneError]), cfg.connectTimeoutMs, 'connect');
    } catch (e) {
      end(e instanceof Error ? e.message : String(e));
      throw e;
    }
    return connection;
  }
}
