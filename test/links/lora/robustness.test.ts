// Modems misbehave: they reset mid-session (banner / reboot report), answer with errors, stall,
// or send garbage. Each case must end in a logged reason, a retry with backoff, and a working
// link, never a crash. Also: the duty-cycle limiter holds frames back, in order, and a full
// queue rejects with a typed, counted error.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/util/clock.js';
import { QueueFullError, TransmitFailedError } from '../../../src/links/radio/errors.js';
import { Rak3172Transport } from '../../../src/links/lora/rak3172.js';
import { Rn2483Transport } from '../../../src/links/lora/rn2483.js';
import { RNodeTransport } from '../../../src/links/lora/rnode.js';
import { MeshtasticTransport } from '../../../src/links/lora/meshtastic.js';
import { MeshtasticEmulator } from '../../emulators/radios/meshtastic.js';
import { Rak3172Emulator } from '../../emulators/radios/rak3172.js';
import { Rn2483Emulator } from '../../emulators/radios/rn2483.js';
import { RNodeEmulator } from '../../emulators/radios/rnode.js';
import type { RadioDevice as DeviceEmulator } from '../../emulators/radios/device.js';
import { until } from '../../helpers/wait.js';
import { loraRig as rig } from './rig.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
/** Frames a raw-LoRa dialect put on air, without the RNode-compatible 1-byte header. */
const sent = (e: DeviceEmulator) => e.transmitted.map((p) => hex(p.bytes.subarray(1)));
/** A packet as another radio on the profile sends it: header (sequence 1, no split) + frame. */
const onAir = (...frame: number[]) => Uint8Array.of(0x10, ...frame);
const US = { region: 'EU868', frequencyHz: 869_525_000, sf: 7 } as const;

describe('RAK3172 modem faults', () => {
  it('reconfigures after a reset banner mid-session and keeps sending', async () => {
    const r = await rig('rak3172', Rak3172Transport, new Rak3172Emulator(), US);
    await r.transport.open();
    r.emulator.reset();
    await until('recovery after reset', () => r.counters.get('modem_resets') === 1 && r.transport.state === 'up');
    expect(r.states).toContain('degraded');
    expect(r.logged(/modem fault; configuring it again.*restarted/)).toBe(true);
    await r.transport.send(Uint8Array.of(1, 2, 3));
    expect(sent(r.emulator)).toEqual(['010203']);
    r.emulator.receive(onAir(9, 9));
    await until('receive after recovery', () => r.received.length === 1);
  });

  it('retries a transmission the modem answered with an error, sending it once', async () => {
    const r = await rig('rak3172', Rak3172Transport, new Rak3172Emulator(), US);
    await r.transport.open();
    r.emulator.failNext = { prefix: 'AT+PSEND', answer: 'AT_BUSY_ERROR' };
    await r.transport.send(Uint8Array.of(0xaa));
    expect(sent(r.emulator)).toEqual(['aa']);
    expect(r.counters.get('transmit_failures')).toBe(1);
    expect(r.logged(/transmission failed.*AT_BUSY_ERROR/)).toBe(true);
  });

  it('times out a stalled command, retries with backoff, and gives up after maxAttempts with a typed error', async () => {
    const r = await rig('rak3172', Rak3172Transport, new Rak3172Emulator(), US, { maxAttempts: 2 });
    await r.transport.open();
    r.emulator.stallCommands = 1;
    await r.transport.send(Uint8Array.of(0x01));
    expect(r.counters.get('recover.modem-timeout')).toBe(1);
    expect(r.logged(/did not answer \\?"AT\+PRECV=0\\?" within 300 ms/)).toBe(true);

    // A modem that keeps refusing to transmit: the frame is given up, visibly, after 2 attempts.
    r.emulator.failAlways = { prefix: 'AT+PSEND', answer: 'AT_ERROR' };
    await expect(r.transport.send(Uint8Array.of(0x02))).rejects.toBeInstanceOf(TransmitFailedError);
    expect(r.counters.get('frames_failed')).toBe(1);
    r.emulator.failAlways = undefined;
    await until('recovery after the stall ends', () => r.transport.state === 'up');
    await r.transport.send(Uint8Array.of(0x03));
    expect(sent(r.emulator)).toEqual(['01', '03']);
  });

  it('discards non-UTF-8 and overlong lines, counting them, and keeps working', async () => {
    const r = await rig('rak3172', Rak3172Transport, new Rak3172Emulator(), US);
    await r.transport.open();
    r.emulator.garbage();
    r.emulator.receive(onAir(7));
    await until('frame after garbage', () => r.received.length === 1);
    expect(r.counters.get('garbage_non_utf8')).toBe(1);
    expect(r.counters.get('garbage_overlong')).toBe(1);
    expect(r.logged(/garbage/)).toBe(true);
    await r.transport.send(Uint8Array.of(8));
    expect(sent(r.emulator)).toEqual(['08']);
  });
});

describe('other dialects recover too', () => {
  it('RN2483: banner mid-session -> mac pause and radio settings again', async () => {
    const r = await rig('rn2483', Rn2483Transport, new Rn2483Emulator(), { region: 'EU868', frequencyHz: 869_525_000, sf: 7 });
    await r.transport.open();
    const before = r.emulator.commands.filter((c) => c === 'mac pause').length;
    r.emulator.reset();
    await until('RN2483 recovery', () => r.counters.get('modem_resets') === 1 && r.transport.state === 'up');
    expect(r.emulator.commands.filter((c) => c === 'mac pause').length).toBe(before + 1);
    await r.transport.send(Uint8Array.of(0x42));
    await until('RN2483 listening again', () => r.emulator.receiving);
    r.emulator.receive(onAir(0x43));
    await until('RN2483 receive', () => r.received.length === 1);
    expect(sent(r.emulator)).toEqual(['42']);
  });

  it('RNode: a value the board does not apply keeps the link down with the reason logged; a reboot is recovered', async () => {
    const emu = new RNodeEmulator();
    emu.forceSf = 9;
    const r = await rig('rnode', RNodeTransport, emu, US);
    const opened = r.transport.open();
    await until('misreport logged', () => r.logged(/reported 09 instead of 07/));
    expect(r.transport.state).toBe('down');
    emu.forceSf = undefined;
    await opened;
    emu.reboot();
    await until('RNode recovery', () => r.counters.get('modem_resets') === 1 && r.transport.state === 'up');
    await r.transport.send(Uint8Array.of(5, 6));
    await until('RNode transmission', () => emu.transmitted.length === 1);
    expect(sent(emu)).toEqual(['0506']);
  });

  it('Meshtastic: reboot report and an unconfirmed packet are recovered', async () => {
    const emu = new MeshtasticEmulator(0x11223344);
    const r = await rig('meshtastic', MeshtasticTransport, emu, { region: 'EU868' });
    await r.transport.open();
    expect((r.transport as MeshtasticTransport).nodeNum).toBe(0x11223344);
    emu.reboot();
    await until('Meshtastic recovery', () => r.counters.get('modem_resets') === 1 && r.transport.state === 'up');
    emu.stallPackets = 1;
    await r.transport.send(Uint8Array.of(0x77));
    expect(emu.toRadio.filter((m) => m.packet).map((m) => hex(m.packet!.payload!))).toEqual(['77', '77']);
    expect(emu.transmitted).toHaveLength(1);
    expect(r.counters.get('transmit_failures')).toBe(1);
  });
});

describe('duty cycle on a live transport', () => {
  it('defers frames until airtime is allowed, in order, and rejects with QueueFullError when the queue is full', async () => {
    const clock = new ManualClock(1_000_000);
    const r = await rig(
      'rak3172',
      Rak3172Transport,
      new Rak3172Emulator(),
      { region: 'EU868', sf: 12 },
      { clock, queueLimit: 2, dutyCycle: 0.001 },
    );
    // The manual clock also times the modem's retries: if the emulator's start-up banner lands
    // mid-configuration (it does on a loaded machine), the driver retries after a backoff that
    // only passes if the clock moves. Let it run until the link is up; no frame is queued yet.
    const ticking = setInterval(() => clock.advance(50), 5);
    await r.transport.open().finally(() => clearInterval(ticking));
    // At 0.1% the hour's whole budget is 3.6 s: the longest SF12 frame within it (4.9 s for the
    // board's 115 bytes would never be allowed), less the 1-byte RNode-compatible header.
    expect(r.transport.capabilities.mtu).toBe(74);
    expect(r.transport.frameAirtimeMs(74)).toBeLessThanOrEqual(3600);
    expect(r.transport.frameAirtimeMs(75)).toBeGreaterThan(3600);
    const frame = (n: number) => new Uint8Array(50).fill(n);
    await r.transport.send(frame(1));
    let second = false;
    const p2 = r.transport.send(frame(2)).then(() => void (second = true));
    const p3 = r.transport.send(frame(3));
    await expect(r.transport.send(frame(4))).rejects.toBeInstanceOf(QueueFullError);
    expect(r.counters.get('queue_full')).toBe(1);
    expect(r.counters.get('frames_deferred')).toBe(1);
    await new Promise((res) => setTimeout(res, 100));
    expect(second).toBe(false); // 3.6 s of airtime per hour at 0.1%: one 2.79 s frame fits, not two
    expect(r.emulator.transmitted).toHaveLength(1);
    // Every rolling hour that holds the second frame may hold at most 3 600 - 2 793 = 807 ms of
    // the first: the hour ending with the second starts 807 ms before the first one's end, so the
    // second may start 3 600 000 - 3 600 + 2 793 = 3 599 193 ms after the first did, not before.
    clock.advance(3_599_100);
    await new Promise((res) => setTimeout(res, 50));
    expect(second).toBe(false);
    clock.advance(100);
    await p2;
    clock.advance(3_700_000);
    await p3;
    expect(r.emulator.transmitted.map((p) => p.bytes[1])).toEqual([1, 2, 3]);
    expect(r.counters.get('frames_deferred')).toBe(2);
    // 18-symbol preamble (the region profile, as RNode's firmware sets it) + header byte.
    expect(r.counters.get('airtime_ms')).toBe(3 * 2793);
  });
});
