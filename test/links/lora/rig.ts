// Test rig for a LoRa dialect: a socat pty pair, the device's emulator on the far end and the
// real driver on the near end (real serialport). Everything a rig starts is stopped after the test.
import { afterEach } from 'vitest';
import { findBoardProfile } from '../../../src/links/boards.js';
import type { LinkState } from '../../../src/links/link.js';
import type { LoraOverrides } from '../../../src/links/lora/common.js';
import type { Rak3172Transport } from '../../../src/links/lora/rak3172.js';
import { serialChannelFactory } from '../../../src/links/radio/channel.js';
import type { RadioTransport } from '../../../src/links/radio/transport.js';
import type { ManualClock } from '../../../src/util/clock.js';
import { Counters } from '../../../src/util/counters.js';
import { memoryLogger } from '../../../src/util/log.js';
import type { RadioDevice } from '../../emulators/radios/device.js';
import { openPtyPair } from '../../emulators/pty.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined);
});

/** A LoRa transport class (every dialect's constructor takes the same two arguments). */
export type LoraTransportClass<T extends RadioTransport = RadioTransport> = new (
  o: ConstructorParameters<typeof Rak3172Transport>[0],
  deps: ConstructorParameters<typeof Rak3172Transport>[1],
) => T;

export interface RigOptions {
  /** The link's name (default lora0). */
  name?: string;
  commandTimeoutMs?: number;
  clock?: ManualClock;
  queueLimit?: number;
  maxAttempts?: number;
  dutyCycle?: number;
}

/** `board`'s driver `Transport` (not opened) talking to `emulator` over a fresh pty pair. */
export async function loraRig<T extends RadioTransport, E extends RadioDevice>(
  board: string,
  Transport: LoraTransportClass<T>,
  emulator: E,
  radio: LoraOverrides,
  o: RigOptions = {},
) {
  const profile = findBoardProfile(board);
  const pty = await openPtyPair();
  cleanup.push(() => pty.close());
  await emulator.start(pty.far, profile.transports.serial!.baudRate);
  cleanup.push(() => emulator.stop());
  const log = memoryLogger();
  const counters = new Counters();
  const transport = new Transport(
    {
      name: o.name ?? 'lora0',
      profile,
      openChannel: serialChannelFactory(pty.device, profile.transports.serial!),
      radio,
      commandTimeoutMs: o.commandTimeoutMs ?? 300,
      backoff: { initialMs: 20, maxMs: 200 },
      queueLimit: o.queueLimit,
      maxAttempts: o.maxAttempts,
      dutyCycle: o.dutyCycle,
    },
    { log, counters, clock: o.clock },
  );
  cleanup.push(() => transport.close());
  const states: LinkState[] = [];
  transport.onState((s) => states.push(s));
  const received: Uint8Array[] = [];
  transport.onFrame((f) => received.push(f));
  const logged = (re: RegExp) => log.lines.some((l) => re.test(l));
  return { transport, emulator, log, counters, states, received, logged };
}
