// Two real Dire Wolf modems joined through audio (test/emulators/direwolf.ts startDirewolfPair):
// frames our KISS transport hands to one direwolf over TCP are modulated to AFSK 1200, played in
// real time to the other, demodulated, and delivered to our transport on its KISS TCP port, in
// both directions; a receive-only transport hears without a callsign and never keys up.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRadioTransport } from '../../../src/links/radio/factory.js';
import type { FrameTransport } from '../../../src/links/link.js';
import { Counters } from '../../../src/util/counters.js';
import { silentLogger } from '../../../src/util/log.js';
import { direwolfMissing, startDirewolfPair, workdir, type DirewolfPair } from '../../emulators/direwolf.js';
import { until } from '../../helpers/wait.js';

const missing = direwolfMissing();
if (missing) console.warn(`skipping the Dire Wolf pair tests: ${missing}`);

describe.skipIf(missing !== undefined)('two direwolf modems joined through audio', () => {
  const wd = workdir();
  let pair: DirewolfPair;
  const transports: FrameTransport[] = [];
  const got: Uint8Array[][] = [[], []];
  const counters = [new Counters(), new Counters()];

  beforeAll(async () => {
    pair = await startDirewolfPair(wd.dir);
    for (const [i, s] of pair.stations.entries()) {
      const t = createRadioTransport(
        { type: 'kiss', name: `ham${i}`, callsign: `N0CALL-${i + 7}`, tcp: `127.0.0.1:${s.kissPort}` },
        { log: silentLogger(), counters: counters[i] },
      );
      t.onFrame((f) => got[i].push(f));
      await t.open();
      transports.push(t);
    }
    await until('both KISS clients attached', () => pair.stations.every((s) => /Attached to KISS TCP client/.test(s.output())));
  }, 60_000);

  afterAll(async () => {
    await Promise.all(transports.map((t) => t.close()));
    await pair?.stop();
    wd.remove();
  });

  it('carries frames each way over AFSK 1200, bytes intact, each taking its airtime', async () => {
    const payload = (seed: number) => Uint8Array.from({ length: 200 }, (_, i) => (i * 31 + seed) & 0xff);
    // FEND, FESC and an HDLC flag in the payload: KISS escaping and bit stuffing both at work.
    const a = payload(1);
    a.set([0xc0, 0xdb, 0x7e], 10);
    await transports[0].send(a);
    await until('frame 0 -> 1', () => got[1].length === 1, 30_000, pair.diag);
    expect([...got[1][0]]).toEqual([...a]);
    const b = payload(2);
    await transports[1].send(b);
    await until('frame 1 -> 0', () => got[0].length === 1, 30_000, pair.diag);
    expect([...got[0][0]]).toEqual([...b]);
    // Each station heard the other's frame and logged it in its monitor format.
    expect(pair.stations[1].output()).toMatch(/N0CALL-7>ALTNET:/);
    expect(pair.stations[0].output()).toMatch(/N0CALL-8>ALTNET:/);
    // The audio of a ~216-byte AX.25 frame at 1200 bit/s with Dire Wolf's default TXDELAY
    // (300 ms) and TXTAIL (100 ms) lasts well over a second: the air played it, not a shortcut.
    const stats = pair.stats();
    for (const ms of stats.transmittedMs) expect(ms).toBeGreaterThan(1500);
    // Our own transmissions do not come back to us.
    expect(got[0]).toHaveLength(1);
    expect(got[1]).toHaveLength(1);
  }, 90_000);
});
