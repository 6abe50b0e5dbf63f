// Two transports of each dialect exchange frames through a pair of board emulators on socat
// ptys, joined by an emulated radio channel, first clean, then with 30% packet loss.
import { afterEach, describe, expect, it } from 'vitest';
import { createRadioTransport } from '../../../src/links/radio/factory.js';
import type { FrameTransport } from '../../../src/links/link.js';
import { Counters } from '../../../src/util/counters.js';
import { silentLogger } from '../../../src/util/log.js';
import { E22Emulator } from '../../emulators/radios/e22.js';
import { MeshtasticEmulator } from '../../emulators/radios/meshtastic.js';
import { Rak3172Emulator } from '../../emulators/radios/rak3172.js';
import { Rn2483Emulator } from '../../emulators/radios/rn2483.js';
import { RNodeEmulator } from '../../emulators/radios/rnode.js';
import { linkByAir } from '../../emulators/radios/air.js';
import { prng } from '../../emulators/device.js';
import type { RadioDevice as DeviceEmulator } from '../../emulators/radios/device.js';
import { openPtyPair, type PtyPair } from '../../emulators/pty.js';
import { until } from '../../helpers/wait.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined);
});

interface Side {
  transport: FrameTransport;
  emulator: DeviceEmulator;
  received: Uint8Array[];
  counters: Counters;
}

async function side(board: string, options: Record<string, string>, emulator: DeviceEmulator, baud: number, name: string): Promise<Side> {
  const pty: PtyPair = await openPtyPair();
  cleanup.push(() => pty.close());
  await emulator.start(pty.far, baud);
  cleanup.push(() => emulator.stop());
  const counters = new Counters();
  const transport = createRadioTransport(
    { type: 'lora', name, board, device: pty.device, ...options },
    { log: silentLogger(), counters: counters.scoped(`link.${name}.`) },
  );
  cleanup.push(() => transport.close());
  const received: Uint8Array[] = [];
  transport.onFrame((f) => received.push(f));
  return { transport, emulator, received, counters };
}

// EU868 sub-band g3 (869.4-869.65 MHz, 10%): at SF7 the test is bound by serial round trips.
const FAST = { region: 'EU868', frequency: '869.525', sf: '7' };
const DIALECTS: { board: string; options: Record<string, string>; make(i: number): DeviceEmulator; baud: number }[] = [
  { board: 'rnode', options: FAST, make: () => new RNodeEmulator(), baud: 115200 },
  { board: 'rak3172', options: FAST, make: () => new Rak3172Emulator(), baud: 115200 },
  { board: 'rn2483', options: FAST, make: () => new Rn2483Emulator(), baud: 57600 },
  // burst=1: this exchange is about framing and loss, not pacing (test/links/radio/dutycycle.test.ts).
  { board: 'ebyte-e22', options: { region: 'EU868', burst: '1' }, make: () => new E22Emulator(), baud: 9600 },
  { board: 'meshtastic', options: { region: 'EU868' }, make: (i) => new MeshtasticEmulator(0xa0000000 + i), baud: 115200 },
];

describe.each(DIALECTS)('LoRa dialect $board over emulated radios', ({ board, options, make, baud }) => {
  it('exchanges frames both ways, then survives 30% loss without losing order or inventing frames', async () => {
    const a = await side(board, options, make(1), baud, 'a');
    const b = await side(board, options, make(2), baud, 'b');
    const air = linkByAir(a.emulator, b.emulator, 0, 7);
    await Promise.all([a.transport.open(), b.transport.open()]);
    const mtu = a.transport.capabilities.mtu;
    expect(mtu).toBeGreaterThan(40);

    const rand = prng(42);
    const frame = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));
    const f1 = frame(mtu);
    const f2 = Uint8Array.of(0xc0, 0xdb, 0x94, 0xc3, 0x0d, 0x0a, 0x00, 0xa5, 0x5a);
    await a.transport.send(f1);
    await until(`${board}: frame a->b`, () => b.received.length === 1);
    expect([...b.received[0]]).toEqual([...f1]);
    await b.transport.send(f2);
    await until(`${board}: frame b->a`, () => a.received.length === 1);
    expect([...a.received[0]]).toEqual([...f2]);

    const deliveredBefore = air.delivered;
    air.loss = 0.3;
    const sent: Uint8Array[] = [];
    for (let i = 0; i < 20; i++) {
      const f = frame(8 + Math.floor(rand() * 32));
      sent.push(f);
      await a.transport.send(f); // loss is on the air: the modem still accepts every frame
    }
    const before = 1;
    await until(`${board}: all frames on the air`, () => a.emulator.transmitted.length === 21).catch((e) => {
      if (process.env.DEBUG_RADIO)
        console.log((a.emulator as unknown as { commands: string[] }).commands?.slice(-12), a.counters.snapshot());
      throw e;
    });
    await until(`${board}: delivered frames`, () => b.received.length - before === air.delivered - deliveredBefore - b.emulator.missed);
    expect(air.dropped).toBeGreaterThan(0);
    if (process.env.DEBUG_RADIO) console.log(board, air, b.received.length, a.emulator.transmitted.length);
    const got = b.received.slice(before).map((f) => Buffer.from(f).toString('hex'));
    expect(got.length).toBeGreaterThan(0);
    expect(got.length).toBeLessThan(20);
    // Every frame that arrived is one that was sent, in the order sent.
    const hexSent = sent.map((f) => Buffer.from(f).toString('hex'));
    let at = 0;
    for (const g of got) {
      at = hexSent.indexOf(g, at);
      expect(at).toBeGreaterThanOrEqual(0);
      at++;
    }
    expect(a.counters.get('link.a.frames_sent')).toBe(21);
  });
});
