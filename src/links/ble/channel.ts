// A BLE characteristic pair as a ByteChannel (src/links/radio/channel.ts), so the radio drivers
// can run over BLE exactly as over a serial port: above all the KISS/AX.25 transport on a
// Mobilinkd TNC's BLE KISS service, which puts the operator's callsign in every frame. Each open
// is one connection (own noble instance, scan, connect, subscribe); the radio transport reopens
// with its own backoff when the channel reports it closed. connectSession is that connection,
// shared with the Meshtastic channel (meshtastic.ts).
import type { ByteChannel, ChannelFactory } from '../radio/channel.js';
import { LinkClosedError } from '../radio/errors.js';
import { BleCentral, type BleCentralConfig, type BleCentralDeps, type BleConnection } from './central.js';

/** Notifications that arrive before the channel's user registers onData; bounded. */
const EARLY_BYTES_LIMIT = 64 * 1024;

export function bleChannelFactory(cfg: BleCentralConfig, deps: BleCentralDeps): ChannelFactory {
  return () => openBleChannel(cfg, deps);
}

export async function openBleChannel(cfg: BleCentralConfig, deps: BleCentralDeps): Promise<ByteChannel> {
  const dataHandlers: ((chunk: Uint8Array) => void)[] = [];
  let early: Uint8Array[] = [];
  let earlyBytes = 0;

  const onBytes = (data: Buffer): void => {
    const chunk = new Uint8Array(data);
    if (dataHandlers.length === 0) {
      if (earlyBytes + chunk.length > EARLY_BYTES_LIMIT) {
        deps.counters.inc('rx_early_dropped');
        return;
      }
      early.push(chunk);
      earlyBytes += chunk.length;
      return;
    }
    for (const h of dataHandlers) h(chunk);
  };

  const session = await connectSession(cfg, deps, onBytes, '');
  return {
    description: session.description,
    write: session.write,
    close: session.close,
    onData(h) {
      dataHandlers.push(h);
      if (early.length > 0) {
        const pending = early;
        early = [];
        earlyBytes = 0;
        for (const chunk of pending) h(chunk);
      }
    },
    onClose: session.onClose,
  };
}

/** One BLE connection under a channel: what both channel kinds (KISS/NUS bytes, Meshtastic) share. */
export interface BleSession {
  readonly conn: BleConnection;
  /** `ble:<address>` plus the label. */
  readonly description: string;
  /** False once the channel is closed or the connection gone. */
  isOpen(): boolean;
  /** Rejects with LinkClosedError once the channel is closed or the connection gone. */
  write(data: Uint8Array): Promise<void>;
  /** Orderly disconnect (2 s at most) and the central stopped; close handlers are not called. */
  close(): Promise<void>;
  /** Called once with the reason when the peripheral drops the connection (not when we close). */
  onClose(h: (reason: string) => void): void;
}

/**
 * Starts a central (own noble instance), scans for and connects to the configured peripheral with
 * `onNotify` on its notify characteristic, and counts `connects`/`disconnects`. A failed connect
 * stops the central and rejects.
 */
export async function connectSession(
  cfg: BleCentralConfig,
  deps: BleCentralDeps,
  onNotify: (data: Buffer) => void,
  label: string,
): Promise<BleSession> {
  const central = new BleCentral(cfg, deps);
  await central.start();
  const closeHandlers: ((reason: string) => void)[] = [];
  let closedByUs = false;
  let conn: BleConnection;
  try {
    conn = await central.connect(await central.find(), onNotify);
  } catch (e) {
    central.stop();
    throw e;
  }
  deps.counters.inc('connects');
  const description = `ble:${conn.peripheral.address}${label}`;
  void conn.gone.then((reason) => {
    if (closedByUs) return;
    central.stop();
    deps.counters.inc('disconnects');
    for (const h of closeHandlers) h(reason);
  });
  const isOpen = (): boolean => !closedByUs && !conn.ended;
  return {
    conn,
    description,
    isOpen,
    async write(data) {
      if (!isOpen()) throw new LinkClosedError(description);
      await conn.write(data);
    },
    async close() {
      if (closedByUs) return;
      closedByUs = true;
      await conn.disconnect(2_000);
      central.stop();
    },
    onClose: (h) => void closeHandlers.push(h),
  };
}
