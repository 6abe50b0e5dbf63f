// What goes on air, checked against emulators written from the devices' firmware and manuals:
// - the airtime each driver charges to the duty-cycle limiter equals the time on air of the
//   packets its device really transmitted (header bytes, preamble and all), per dialect;
// - the dialect matrix: every transmitting dialect sends to every other receiving dialect on one
//   emulated air; radios on the region's on-air profile (RNode, RAK3172, RN2483) hear each
//   other, Meshtastic and E22 hear only their own kind (see README, "Mixed radios");
// - RAK3172's AT+PSEND limit (500 hex digits).
import { afterEach, describe, expect, it } from 'vitest';
import { createRadioTransport } from '../../../src/links/radio/factory.js';
import type { FrameTransport } from '../../../src/links/link.js';
import { Counters } from '../../../src/util/counters.js';
import { silentLogger } from '../../../src/util/log.js';
import { Air } from '../../emulators/radios/air.js';
import { timeOnAirMs, type RadioDevice } from '../../emulators/radios/device.js';
import { E22Emulator } from '../../emulators/radios/e22.js';
import { MeshtasticEmulator } from '../../emulators/radios/meshtastic.js';
import { Rak3172Emulator } from '../../emulators/radios/rak3172.js';
import { Rn2483Emulator } from '../../emulators/radios/rn2483.js';
import { RNodeEmulator } from '../../emulators/radios/rnode.js';
import { openPtyPair } from '../../emulators/pty.js';
import { until } from '../../helpers/wait.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined);
});

interface Radio {
  board: string;
  dev: RadioDevice;
  t: FrameTransport;
  counters: Counters;
  received: string[];
}

async function radio(board: string, dev: RadioDevice, baud: number, options: Record<string, string>): Promise<Radio> {
  const pty = await openPtyPair();
  cleanup.push(() => pty.close());
  await dev.start(pty.far, baud);
  cleanup.push(() => dev.stop());
  const counters = new Counters();
  const t = createRadioTransport({ type: 'lora', name: board, board, device: pty.device, ...options }, { log: silentLogger(), counters });
  cleanup.push(() => t.close());
  const received: string[] = [];
  t.onFrame((f) => received.push(Buffer.from(f).toString('hex')));
  return { board, dev, t, counters, received };
}

const KINDS: { board: string; make(): RadioDevice; baud: number }[] = [
  { board: 'rnode', make: () => new RNodeEmulator({ chip: 'sx1262' }), baud: 115200 },
  { board: 'rak3172', make: () => new Rak3172Emulator(), baud: 115200 },
  { board: 'rn2483', make: () => new Rn2483Emulator(), baud: 57600 },
  { board: 'ebyte-e22', make: () => new E22Emulator(), baud: 9600 },
  { board: 'meshtastic', make: () => new MeshtasticEmulator(0xa1b2c3d4), baud: 115200 },
];

describe('airtime per dialect', () => {
  it.each(KINDS)('$board: the limiter is charged exactly the time on air of what the device sent', async ({ board, make, baud }) => {
    // burst=1: two SF12 frames back to back; pacing is tested in test/links/radio/dutycycle.test.ts.
    const r = await radio(board, make(), baud, { region: 'EU868', burst: '1' });
    await r.t.open();
    for (const n of [12, Math.min(150, r.t.capabilities.mtu)]) await r.t.send(new Uint8Array(n).fill(0x5a));
    await until(`${board}: both frames on air`, () => r.dev.transmitted.length === 2);
    const onAir = r.dev.transmitted.reduce((s, p) => s + Math.round(timeOnAirMs(p.phy, p.bytes.length)), 0);
    expect(r.counters.get('airtime_ms')).toBe(onAir);
  });
});

describe('dialect matrix on one air (EU868 profile)', () => {
  it('RNode, RAK3172 and RN2483 hear each other; Meshtastic and E22 hear only their own kind', async () => {
    const air = new Air();
    const radios: Radio[] = [];
    for (const k of KINDS) {
      const r = await radio(k.board, k.make(), k.baud, { region: 'EU868' });
      air.join(k.board, r.dev);
      radios.push(r);
    }
    await Promise.all(radios.map((r) => r.t.open()));
    const frameOf = (i: number) => Uint8Array.of(0xf0 + i, 1, 2, 3, i);
    for (const [i, r] of radios.entries()) {
      await r.t.send(frameOf(i));
      await until(`${r.board} on air`, () => r.dev.transmitted.length === 1);
      await new Promise((res) => setTimeout(res, 150)); // receivers report and re-arm
    }
    const profile = ['rnode', 'rak3172', 'rn2483'];
    const heard: string[] = [];
    for (const [j, rx] of radios.entries()) {
      for (const [i, tx] of radios.entries()) {
        if (i === j) continue;
        const got = rx.received.includes(Buffer.from(frameOf(i)).toString('hex'));
        if (got) heard.push(`${tx.board}->${rx.board}`);
        expect(got, `${tx.board} -> ${rx.board}`).toBe(profile.includes(tx.board) && profile.includes(rx.board));
      }
    }
    expect(heard).toHaveLength(6);
    // Nothing garbled got through: every receiver got exactly the frames it should.
    for (const rx of radios) expect(rx.received).toHaveLength(profile.includes(rx.board) ? 2 : 0);
    const reasons = air.stats.unheard.map((u) => `${u.from} ${u.reason}`);
    expect(reasons).toContain('meshtastic rnode: spreading factor SF11 vs SF12');
    expect(reasons.some((r) => r.startsWith('ebyte-e22 rak3172:'))).toBe(true);
  });
});

describe('RAK3172 payload limit', () => {
  it("keeps frames within AT+PSEND's 500 hex digits (250 bytes, header included)", async () => {
    const r = await radio('rak3172', new Rak3172Emulator(), 115200, { region: 'US915', bw: '500' });
    await r.t.open();
    expect(r.t.capabilities.mtu).toBe(249);
    await r.t.send(new Uint8Array(249).fill(1));
    expect(r.dev.transmitted[0].bytes).toHaveLength(250);
    expect(r.counters.get('transmit_failures')).toBe(0);
  });
});
