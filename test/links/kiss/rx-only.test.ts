// Receiving on amateur radio needs no licence, so a receive-only KISS link starts without a
// callsign and hears another station's frames; only transmitting needs one (and says how to
// do without). Emulated TNCs on socat ptys joined by an emulated channel, as transport.test.ts.
import { afterEach, describe, expect, it } from 'vitest';
import { createRadioTransport } from '../../../src/links/radio/factory.js';
import { CallsignRequiredError } from '../../../src/links/radio/errors.js';
import type { FrameTransport } from '../../../src/links/link.js';
import { Counters } from '../../../src/util/counters.js';
import { silentLogger } from '../../../src/util/log.js';
import { KissTncEmulator } from '../../emulators/binary-modems.js';
import { linkByAir } from '../../emulators/device.js';
import { openPtyPair } from '../../emulators/pty.js';
import { until } from '../../helpers/wait.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined);
});

async function station(options: Record<string, string>) {
  const pty = await openPtyPair();
  cleanup.push(() => pty.close());
  const tnc = await new KissTncEmulator().start(pty.far, 9600);
  cleanup.push(() => tnc.stop());
  const t: FrameTransport = createRadioTransport(
    { type: 'kiss', device: pty.device, ...options },
    { log: silentLogger(), counters: new Counters() },
  );
  cleanup.push(() => t.close());
  const received: Uint8Array[] = [];
  t.onFrame((f) => received.push(f));
  return { t, tnc, received };
}

describe('receive-only KISS link', () => {
  it('starts without a callsign and hears a transmitting station', async () => {
    const a = await station({ name: 'tx', callsign: 'N0CALL-1' });
    const b = await station({ name: 'rx', direction: 'rx' });
    linkByAir(a.tnc, b.tnc);
    await Promise.all([a.t.open(), b.t.open()]);
    expect(b.t.capabilities.direction).toBe('rx');
    await a.t.send(new Uint8Array([1, 2, 3, 4]));
    await until('the frame at the receive-only station', () => b.received.length === 1);
    expect([...b.received[0]]).toEqual([1, 2, 3, 4]);
  });

  it('a link that would transmit without a callsign is refused, saying receive-only needs none', () => {
    let err: unknown;
    try {
      createRadioTransport({ type: 'kiss', name: 'hf0', tcp: '127.0.0.1:8001' }, { log: silentLogger(), counters: new Counters() });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CallsignRequiredError);
    expect((err as Error).message).toMatch(
      /link hf0 has no callsign; set callsign= .*or make the link receive-only \(link\.hf0\.direction=rx, or run with --receive-only\)/,
    );
  });
});
