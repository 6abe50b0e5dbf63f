// The simulated air is physically honest (issue 17): one frame at a time per transmitter, each
// taking its LoRa airtime; overlapping frames of different transmitters collide; a transmitting
// member hears nothing; the driver waits for the air's TX done before its next frame.
import { afterEach, describe, expect, it } from 'vitest';
import { createSocket, type Socket } from 'node:dgram';
import { SimAir, seededRandom } from '../../src/links/sim/air.js';
import { SimTransport } from '../../src/links/sim/transport.js';
import { loraAirtimeMs, loraParams, type LoraAirtimeParams } from '../../src/links/radio/airtime.js';
import { Counters } from '../../src/util/counters.js';
import { memoryLogger } from '../../src/util/log.js';
import { until } from '../helpers/wait.js';

const SF7: LoraAirtimeParams = loraParams(7);

interface Member {
  socket: Socket;
  got: { at: number; data: Uint8Array }[];
  send(b: Uint8Array): void;
}

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function member(airPort: number): Promise<Member> {
  const socket = createSocket('udp4');
  const got: Member['got'] = [];
  socket.on('message', (m) => got.push({ at: performance.now(), data: new Uint8Array(m) }));
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  cleanup.push(() => new Promise<void>((r) => socket.close(() => r())));
  const m = { socket, got, send: (b: Uint8Array) => socket.send(b, airPort, '127.0.0.1') };
  m.send(Uint8Array.of(0x4a));
  return m;
}

async function startAir(o: Partial<ConstructorParameters<typeof SimAir>[0]> = {}): Promise<{ air: SimAir; port: number }> {
  const air = new SimAir({ loss: 0, lora: SF7, random: seededRandom(1), ...o });
  const port = await air.start();
  cleanup.push(() => air.close());
  return { air, port };
}

const frame = (tag: number, len = 100) => Uint8Array.from([0x46, ...new Uint8Array(len).fill(tag)]);

describe('simulated air', () => {
  it('puts one frame of a transmitter on air at a time: a burst of 5 frames takes 5 airtimes and each sender gets TX done per frame', async () => {
    const { air, port } = await startAir();
    const a = await member(port);
    const b = await member(port);
    await until('both joined', () => air.stats.members === 2);
    const t0 = performance.now();
    for (let i = 1; i <= 5; i++) a.send(frame(i));
    await until('5 frames heard by b', () => b.got.filter((g) => g.data[0] === 0x46).length === 5, 5000);
    const airtime = loraAirtimeMs(100, SF7);
    const frames = b.got.filter((g) => g.data[0] === 0x46);
    expect(frames.map((f) => f.data[1])).toEqual([1, 2, 3, 4, 5]);
    // The last one left the air no earlier than 5 airtimes after the first was handed over.
    expect(frames[4].at - t0).toBeGreaterThanOrEqual(5 * airtime - 5);
    expect(air.stats.queuedBehindOwn).toBe(4);
    expect(air.stats.collided).toBe(0);
    await until('5 TX done to a', () => a.got.filter((g) => g.data[0] === 0x44).length === 5);
  });

  it('frames of two transmitters that overlap collide: nobody hears either; a third member hears the ones that did not overlap', async () => {
    const { air, port } = await startAir();
    const a = await member(port);
    const b = await member(port);
    const c = await member(port);
    await until('three joined', () => air.stats.members === 3);
    a.send(frame(1));
    b.send(frame(2)); // on air at the same time as a's
    await until('both done', () => a.got.some((g) => g.data[0] === 0x44) && b.got.some((g) => g.data[0] === 0x44));
    expect(air.stats.collided).toBe(2);
    expect(c.got.filter((g) => g.data[0] === 0x46)).toHaveLength(0);
    expect(a.got.filter((g) => g.data[0] === 0x46)).toHaveLength(0);
    a.send(frame(3)); // alone on air now
    await until('c hears frame 3', () => c.got.some((g) => g.data[0] === 0x46 && g.data[1] === 3));
    expect(b.got.some((g) => g.data[0] === 0x46 && g.data[1] === 3)).toBe(true);
  });

  it("sizes its frames as the LoRa boards do: 115 bytes at SF12, shorter when one hour's budget allows less, refused when it allows none", () => {
    const deps = { log: memoryLogger(), counters: new Counters() };
    const sim = (dutyCycle: number) =>
      new SimTransport({ name: 'air', air: { host: '127.0.0.1', port: 9 }, lora: loraParams(12), direction: 'tx', dutyCycle }, deps);
    expect(sim(0.01).capabilities.mtu).toBe(115);
    // 0.1%: 3.6 s of airtime per hour, less than a 115-byte SF12 frame (4.4 s).
    const mtu = sim(0.001).capabilities.mtu;
    expect(loraAirtimeMs(mtu, loraParams(12))).toBeLessThanOrEqual(3600);
    expect(loraAirtimeMs(mtu + 1, loraParams(12))).toBeGreaterThan(3600);
    expect(() => sim(1e-6)).toThrow(expect.objectContaining({ code: 'sim-rate-unusable' }));
  });

  it('the sim driver sends one frame per airtime: three queued frames take three airtimes at 100% duty cycle', async () => {
    const { air, port } = await startAir();
    const counters = new Counters();
    const t = new SimTransport(
      { name: 'air', air: { host: '127.0.0.1', port }, lora: SF7, direction: 'duplex', dutyCycle: 1 },
      { log: memoryLogger(), counters },
    );
    cleanup.push(() => t.close());
    const listener = await member(port);
    await t.open();
    await until('joined', () => air.stats.members === 2);
    const t0 = performance.now();
    const sends = [1, 2, 3].map((i) => t.send(new Uint8Array(200).fill(i)));
    await Promise.all(sends);
    const airtime = loraAirtimeMs(200, SF7);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(3 * airtime - 5);
    expect(air.stats.queuedBehindOwn).toBe(0); // the driver itself waited; the air never had to queue
    await until('listener heard 3', () => listener.got.filter((g) => g.data[0] === 0x46).length === 3);
  });

  it('the driver says plainly when the airtime budget is used up and when the next frame goes', async () => {
    const { air, port } = await startAir();
    const log = memoryLogger();
    const counters = new Counters();
    // 0.01% of an hour: 360 ms budget, 36 ms burst; a 100-byte SF7 frame is ~170 ms, so the second waits.
    const t = new SimTransport(
      { name: 'air', air: { host: '127.0.0.1', port }, lora: SF7, direction: 'tx', dutyCycle: 0.0001 },
      { log, counters },
    );
    cleanup.push(() => t.close());
    await t.open();
    await until('joined', () => air.stats.members === 1);
    await t.send(new Uint8Array(100));
    void t.send(new Uint8Array(100)).catch(() => {});
    await until('deferral logged', () => log.lines.some((l) => l.includes('airtime budget used up; frame waits')));
    const line = log.lines.find((l) => l.includes('airtime budget used up'))!;
    expect(line).toMatch(/nextFrameAt/);
    expect(counters.get('frames_deferred')).toBe(1);
  });
});
