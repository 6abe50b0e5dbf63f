// A BLE characteristic pair as a ByteChannel (src/links/radio/channel.ts), so the radio drivers
// can run over BLE exactly as over a serial port: above all the KISS/AX.25 transport on a
// Mobilinkd TNC's BLE KISS service, which puts the operator's callsign in every frame. Each open
// is one connection (own noble instance, scan, connect, subscribe); the radio transport reopens
// with its own backoff when the channel reports it closed.
import type { ByteChannel, ChannelFactory } from '../radio/channel.js';
import { LinkClosedError } from '../radio/errors.js';
import { BleCentral, type BleCentralConfig, type BleCentralDeps, type BleConnection } from './central.js';

/** Notifications that arrive before the channel's user registers onData; bounded. */
const EARLY_BYTES_LIMIT = 64 * 1024;

export function bleChannelFactory(cfg: BleCentralConfig, deps: BleCentralDeps): ChannelFactory {
  return () => openBleChannel(cfg, deps);
}

export async function openBleChannel(cfg: BleCentralConfig, deps: BleCentralDeps): Promise<ByteChannel> {
  const central = new BleCentral(cfg, deps);
  await central.start();
  const dataHandlers: ((chunk: Uint8Array) => void)[] = [];
  const closeHandlers: ((reason: string) => void)[] = [];
  let early: Uint8Array[] = [];
  let earlyBytes = 0;
  let closedByUs = false;

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

  let conn: BleConnection;
  try {
    conn = await central.connect(await central.find(), onBytes);
  } catch (e) {
    central.stop();
    throw e;
  }
  deps.counters.inc('connects');
  const description = `ble:${conn.peripheral.address}`;
  void conn.gone.then((reason) => {
    if (closedByUs) return;
    central.stop();
    deps.counters.inc('disconnects');
    for (const h of closeHandlers) h(reason);
  });

  return {
    description,
    async write(data) {
      if (closedByUs || conn.ended) throw new LinkClosedError(description);
      await conn.write(data);
    },
    async close() {
      if (closedByUs) return;
      closedByUs = true;
      await conn.disconnect(2_000);
      central.stop();
    },
    onData(h) {
      dataHandlers.push(h);
      if (early.length > 0) {
        const pending = early;
        early = [];
        earlyBytes = 0;
        for (const chunk of pending) h(chunk);
      }
    },
    onClose: (h) => void closeHandlers.push(h),
  };
}
