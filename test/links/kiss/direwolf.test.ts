// Real AFSK 1200 round trips with Debian's direwolf: our KISS/AX.25 frame is modulated by
// gen_packets and demodulated by atest bit-exact; the same audio played into a running direwolf
// comes back to our transport over direwolf's KISS TCP port; and a frame we send over that port
// is accepted and keyed up by direwolf.
import { afterEach, describe, expect, it } from 'vitest';
import { findBoardProfile } from '../../../src/links/boards.js';
import { decodeAx25Ui } from '../../../src/links/kiss/ax25.js';
import { KissTransport } from '../../../src/links/kiss/transport.js';
import { serialChannelFactory } from '../../../src/links/radio/channel.js';
import { createRadioTransport } from '../../../src/links/radio/factory.js';
import { Counters } from '../../../src/util/counters.js';
import { silentLogger } from '../../../src/util/log.js';
import { KissTncEmulator } from '../../emulators/binary-modems.js';
import { prng } from '../../emulators/device.js';
import { atestFrames, direwolfMissing, genPackets, monitorText, startDirewolf, wavSamples, workdir } from '../../emulators/direwolf.js';
import { openPtyPair } from '../../emulators/pty.js';
import { until } from '../../helpers/wait.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await Promise.resolve(f()).catch(() => undefined);
});

/** AX.25 bytes with the two command/response bits cleared (gen_packets sets its own). */
const withoutCrBits = (b: Uint8Array) => {
  const c = b.slice();
  c[6] &= 0x7f;
  c[13] &= 0x7f;
  return Buffer.from(c).toString('hex');
};

const missing = direwolfMissing();
if (missing) console.warn(`skipping the direwolf round trip: ${missing}`);

describe.skipIf(missing !== undefined)('direwolf round trip', () => {
  it('KISS frame -> gen_packets WAV -> atest decodes it bit-exact -> direwolf KISS TCP delivers it to our transport', async () => {
    const wd = workdir();
    cleanup.push(() => wd.remove());

    // 1. Our transport writes a KISS/AX.25 frame to a TNC (emulated on a socat pty).
    const pty = await openPtyPair();
    cleanup.push(() => pty.close());
    const tnc = await new KissTncEmulator().start(pty.far, 9600);
    cleanup.push(() => tnc.stop());
    const profile = findBoardProfile('kiss-tnc');
    const tx = new KissTransport(
      {
        name: 'ham0',
        callsign: 'N0CALL-7',
        profile,
        openChannel: serialChannelFactory(pty.device, profile.transports.serial!),
        txDelayMs: 300,
        persistence: 63,
      },
      { log: silentLogger(), counters: new Counters() },
    );
    cleanup.push(() => tx.close());
    await tx.open();
    await until('TNC parameters', () => tnc.params.length === 2);
    expect(tnc.params).toEqual([
      { command: 1, value: [30] },
      { command: 2, value: [63] },
    ]);
    const rand = prng(9);
    const payload = Uint8Array.from({ length: 51 }, () => Math.floor(rand() * 256));
    payload.set([0xc0, 0xdb, 0x00, 0x7e, 0x3c], 0); // FEND, FESC, NUL, HDLC flag, '<': all must survive
    await tx.send(payload);
    await until('frame at the TNC', () => tnc.transmitted.length === 1);
    const ax25 = tnc.transmitted[0];

    // 2. Modulate with gen_packets, demodulate with atest.
    const wav = await genPackets(wd.dir, monitorText(ax25));
    const decoded = await atestFrames(wav);
    expect(decoded).toHaveLength(1);
    expect(withoutCrBits(decoded[0])).toBe(withoutCrBits(ax25));
    expect([...decodeAx25Ui(decoded[0]).info]).toEqual([...payload]);

    // 3. Play the same audio into a running direwolf; our TCP transport receives the frame.
    const dw = await startDirewolf(wd.dir);
    cleanup.push(() => dw.stop());
    const rx = createRadioTransport(
      { type: 'kiss', name: 'ham1', callsign: 'N0CALL-9', tcp: `127.0.0.1:${dw.kissPort}` },
      { log: silentLogger(), counters: new Counters() },
    );
    cleanup.push(() => rx.close());
    const got: Uint8Array[] = [];
    rx.onFrame((f) => got.push(f));
    await rx.open();
    await until('direwolf accepted our KISS client', () => /Attached to KISS TCP client/.test(dw.output()));
    await dw.play(wavSamples(wav));
    await until('frame through direwolf', () => got.length === 1, 30_000);
    expect([...got[0]]).toEqual([...payload]);

    // 4. And direwolf accepts a frame we send over KISS TCP and transmits it (audio goes to null).
    await rx.send(Uint8Array.from([0x41, 0x4c, 0x54, 0x00, 0xff]));
    await until('direwolf transmit log', () => /N0CALL-9>ALTNET:ALT<0x00><0xff>/.test(dw.output()), 15_000);
  });
});
