// Meshtastic over BLE as a ByteChannel speaking the serial "stream" protocol, so the one
// Meshtastic driver (lora/meshtastic.ts) runs unchanged over USB or Bluetooth. The BLE API
// (Meshtastic "Client API" docs; meshtastic/python ble_interface.py) differs from a byte stream:
// - each ToRadio protobuf is one write to the ToRadio characteristic (no 94 C3 header);
// - the node notifies FromNum when it has something, and the client then reads FromRadio
//   again and again until a read comes back empty (also right after want_config_id).
// This channel strips the stream header off what the driver writes, writes each protobuf whole,
// drains FromRadio after every write and every FromNum notification, and hands each FromRadio
// protobuf to the driver wrapped in the stream header.
import { frameStream, MeshtasticStreamDecoder } from '../lora/meshtastic-schema.js';
import type { ByteChannel, ChannelFactory } from '../radio/channel.js';
import { LinkClosedError } from '../radio/errors.js';
import type { BleCentralConfig, BleCentralDeps, BleConnection, BleServiceProfile } from './central.js';
import { connectSession } from './channel.js';

/** Meshtastic's GATT service (mesh service UUIDs from the firmware and the Python client). */
export const MESHTASTIC_BLE: BleServiceProfile = {
  service: '6ba1b218-15a8-461f-9fa8-5dcae273eafd',
  write: 'f75c76d2-129e-4dad-a1dd-7866124401e7', // ToRadio
  notify: 'ed9da18c-a800-4f66-a670-aa7547e34453', // FromNum
  read: '2c55e69e-4993-11ed-b878-0242ac120002', // FromRadio
  framing: 'meshtastic',
  wholeWrites: true,
};

/** A node that never reads empty would keep us reading forever: bound one drain. */
const MAX_READS_PER_DRAIN = 256;

export function meshtasticBleChannelFactory(cfg: BleCentralConfig, deps: BleCentralDeps): ChannelFactory {
  return () => openMeshtasticBleChannel(cfg, deps);
}

export async function openMeshtasticBleChannel(cfg: BleCentralConfig, deps: BleCentralDeps): Promise<ByteChannel> {
  const dataHandlers: ((chunk: Uint8Array) => void)[] = [];
  const fromDriver = new MeshtasticStreamDecoder(() => deps.counters.inc('mesh-ble-bytes-dropped'));
  let conn: BleConnection | undefined;
  let draining: Promise<void> | undefined;
  let again = false;
  const pending: Uint8Array[] = [];

  const emit = (pb: Uint8Array): void => {
    const framed = frameStream(pb);
    if (dataHandlers.length === 0) pending.push(framed);
    else for (const h of dataHandlers) h(framed);
  };

  /** Reads FromRadio until it is empty; a notification during a drain makes it go round again. */
  const drain = (): Promise<void> => {
    if (draining) {
      again = true;
      return draining;
    }
    draining = (async () => {
      do {
        again = false;
        for (let i = 0; i < MAX_READS_PER_DRAIN && conn && !conn.ended; i++) {
          const pb = await conn.read();
          if (pb.length === 0) break;
          deps.counters.inc('mesh-ble-reads');
          emit(new Uint8Array(pb));
        }
      } while (again && conn && !conn.ended);
    })().finally(() => {
      draining = undefined;
    });
    return draining;
  };
  const drainQuietly = (): void => {
    drain().catch((e: Error) => deps.log.debug('FromRadio read failed', { error: e.message }));
  };

  const session = await connectSession(cfg, deps, () => drainQuietly(), ' (Meshtastic)');
  conn = session.conn;
  return {
    description: session.description,
    async write(data) {
      if (!session.isOpen()) throw new LinkClosedError(session.description);
      // Bytes outside a stream frame (the driver's wake-up 0xC3 run) mean nothing over BLE.
      for (const pb of fromDriver.push(data)) {
        await session.write(pb);
        await drain();
      }
    },
    close: session.close,
    onData(h) {
      dataHandlers.push(h);
      for (const f of pending.splice(0)) h(f);
    },
    onClose: session.onClose,
  };
}
