// Test rig: socat pty pair + HCI controller emulator + the real noble stack (UART HCI driver)
// under a BleTransport. Everything it starts is stopped by close(), even after a failed test.
import { Counters } from '../../../src/util/counters.js';
import { memoryLogger } from '../../../src/util/log.js';
import type { LinkState } from '../../../src/links/link.js';
import { createBleTransport } from '../../../src/links/ble/config.js';
import type { BleTransport } from '../../../src/links/ble/transport.js';
import { openPtyPair, type PtyPair } from '../../emulators/pty.js';
import { until } from '../../helpers/wait.js';
import { HciControllerEmulator, type ControllerOptions } from '../../emulators/hci/controller.js';
import { decodeAx25Ui, encodeAx25Ui, parseCallsign } from '../../../src/links/kiss/ax25.js';

export const OUR_CALL = 'N0CALL-7';

/** An AX.25 UI frame from another station to ALTNET, as a BLE KISS TNC would pass it up. */
export function ax25From(info: Uint8Array, source = 'DL1ABC-2', destination = 'ALTNET'): Buffer {
  return Buffer.from(encodeAx25Ui({ destination: parseCallsign(destination), source: parseCallsign(source), info }));
}

/** The information field of an AX.25 UI frame the TNC received from us. */
export function ax25Info(frame: Uint8Array): Buffer {
  return Buffer.from(decodeAx25Ui(frame).info);
}

export interface Rig {
  pair: PtyPair;
  ctl: HciControllerEmulator;
  counters: Counters;
  log: ReturnType<typeof memoryLogger>;
  transports: BleTransport[];
  /** Builds a transport on this rig's controller (not opened). */
  transport(options: Record<string, string>): BleTransport;
  /** Builds a transport, watches it (watch()) and opens it: resolves once it is up and `device` subscribed. */
  opened(options: Record<string, string>, device: { subscribed: boolean }): Promise<{ t: BleTransport; seen: ReturnType<typeof watch> }>;
  /** The link options the rig uses (controller, short timeouts), merged with `options`. */
  options(options: Record<string, string>): Record<string, string>;
  close(): Promise<void>;
}

export async function startRig(ctlOpts: Omit<ControllerOptions, 'path'> = {}): Promise<Rig> {
  const pair = await openPtyPair();
  const ctl = new HciControllerEmulator({ ...ctlOpts, path: pair.far });
  try {
    await ctl.open();
  } catch (e) {
    await pair.close();
    throw e;
  }
  const counters = new Counters();
  const log = memoryLogger();
  const transports: BleTransport[] = [];
  const withDefaults = (options: Record<string, string>): Record<string, string> => ({
    'link.ble0.type': 'ble',
    'link.ble0.hci': `uart:${pair.device}`,
    'link.ble0.adapter_timeout_ms': '5000',
    'link.ble0.scan_timeout_ms': '3000',
    'link.ble0.connect_timeout_ms': '3000',
    'link.ble0.write_timeout_ms': '3000',
    'link.ble0.reconnect_min_ms': '20',
    'link.ble0.reconnect_max_ms': '200',
    // The emulated TNCs use the Mobilinkd profile, an amateur-radio board: a callsign is required.
    ...(options['link.ble0.service'] === 'kiss' ? { 'link.ble0.callsign': OUR_CALL } : {}),
    ...options,
  });
  const transport = (options: Record<string, string>): BleTransport => {
    const t = createBleTransport(withDefaults(options), { log: log.child('ble0'), counters: counters.scoped('link.ble0.') });
    transports.push(t);
    return t;
  };
  return {
    pair,
    ctl,
    counters,
    log,
    transports,
    options: withDefaults,
    transport,
    async opened(options, device) {
      const t = transport(options);
      const seen = watch(t);
      await t.open();
      await until('link up and subscribed', () => t.state === 'up' && device.subscribed);
      return { t, seen };
    },
    async close() {
      for (const t of transports) {
        try {
          await t.close();
        } catch {
          // keep cleaning
        }
      }
      await ctl.close();
      await pair.close();
    },
  };
}

/** Records states and frames a transport reports. */
export function watch(t: BleTransport): { states: LinkState[]; reasons: (string | undefined)[]; frames: Buffer[] } {
  const seen = { states: [] as LinkState[], reasons: [] as (string | undefined)[], frames: [] as Buffer[] };
  t.onState((s, r) => {
    seen.states.push(s);
    seen.reasons.push(r);
  });
  t.onFrame((f) => seen.frames.push(Buffer.from(f)));
  return seen;
}

/** Deterministic test payload that includes KISS specials and the NUS sync byte. */
export function payload(len: number, seed: number): Buffer {
  const b = Buffer.alloc(len);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < len; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  if (len > 4) {
    b[1] = 0xc0;
    b[2] = 0xdb;
    b[3] = 0xa5;
  }
  return b;
}

/** Backoff delays the transport announced, in order. */
export function backoffDelays(log: { lines: string[] }): number[] {
  return log.lines.flatMap((l) => {
    const m = /reconnecting after backoff delayMs=(\d+)/.exec(l);
    return m ? [Number(m[1])] : [];
  });
}
