// KISS transports over socat ptys with emulated TNCs joined by an emulated radio channel.
import { afterEach, describe, expect, it } from 'vitest';
import { decodeAx25Ui, encodeAx25Ui, parseCallsign } from '../../../src/links/kiss/ax25.js';
import { KISS_TNC_LEAD_MS, KissTransport } from '../../../src/links/kiss/transport.js';
import { findBoardProfile } from '../../../src/links/boards.js';
import { CallsignRequiredError, FrameTooLargeError } from '../../../src/links/radio/errors.js';
import { createRadioTransport } from '../../../src/links/radio/factory.js';
import type { FrameTransport } from '../../../src/links/link.js';
import { Counters } from '../../../src/util/counters.js';
import { ConfigError } from '../../../src/util/errors.js';
import { silentLogger } from '../../../src/util/log.js';
import { KissTncEmulator } from '../../emulators/binary-modems.js';
import { linkByAir } from '../../emulators/device.js';
import { openPtyPair } from '../../emulators/pty.js';
import { createServer, type Socket } from 'node:net';
import { kissData, KissDecoder } from '../../../src/links/kiss/kiss.js';
import { tcpChannelFactory } from '../../../src/links/radio/channel.js';
import type { LinkState } from '../../../src/links/link.js';
import { until } from '../../helpers/wait.js';
import { ManualClock } from '../../../src/util/clock.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined);
});

async function station(callsign: string, counters: Counters) {
  const pty = await openPtyPair();
  cleanup.push(() => pty.close());
  const tnc = await new KissTncEmulator().start(pty.far, 9600);
  cleanup.push(() => tnc.stop());
  const t: FrameTransport = createRadioTransport(
    { type: 'kiss', name: callsign, callsign, device: pty.device, txdelay: '250' },
    { log: silentLogger(), counters },
  );
  cleanup.push(() => t.close());
  const received: Uint8Array[] = [];
  t.onFrame((f) => received.push(f));
  return { t, tnc, received, counters };
}

describe('KISS transport', () => {
  it('refuses to exist without a callsign', () => {
    const profile = findBoardProfile('direwolf');
    const deps = { log: silentLogger(), counters: new Counters() };
    const openChannel = () => Promise.reject(new Error('never opened'));
    expect(() => new KissTransport({ name: 'x', callsign: undefined, profile, openChannel }, deps)).toThrow(CallsignRequiredError);
    expect(() => new KissTransport({ name: 'x', callsign: '  ', profile, openChannel }, deps)).toThrow(/refuses to transmit/);
    expect(() => createRadioTransport({ type: 'kiss', tcp: '127.0.0.1:8001' }, deps)).toThrow(CallsignRequiredError);
    expect(() => createRadioTransport({ type: 'kiss', callsign: 'not a call', tcp: '127.0.0.1:8001' }, deps)).toThrow(ConfigError);
  });

  it('exchanges frames between two stations as AX.25 UI frames and ignores what is not for altnet', async () => {
    const ca = new Counters();
    const a = await station('N0CALL-1', ca);
    const b = await station('N0CALL-2', new Counters());
    const air = linkByAir(a.tnc, b.tnc);
    await Promise.all([a.t.open(), b.t.open()]);
    expect(a.t.capabilities).toMatchObject({ mtu: 256, bitrate: 1200, needsCallsign: true, direction: 'duplex' });
    await until('TXDELAY at the TNC', () => a.tnc.params.length === 1);
    expect(a.tnc.params[0]).toEqual({ command: 1, value: [25] });

    const big = Uint8Array.from({ length: 256 }, (_, i) => i);
    await a.t.send(big);
    await until('a -> b', () => b.received.length === 1);
    expect([...b.received[0]]).toEqual([...big]);
    const onAir = a.tnc.transmitted[0];
    expect(onAir[14]).toBe(0x03);
    expect(onAir[15]).toBe(0xf0);

    await b.t.send(Uint8Array.of(1, 2, 3));
    await until('b -> a', () => a.received.length === 1);
    expect(air.delivered).toBe(2);

    // Not for us, our own echo (a digipeater repeating us), and junk: counted, never delivered.
    a.tnc.receiveFromAir(encodeAx25Ui({ destination: parseCallsign('APRS'), source: parseCallsign('W1AW'), info: Uint8Array.of(9) }));
    a.tnc.receiveFromAir(encodeAx25Ui({ destination: parseCallsign('ALTNET'), source: parseCallsign('N0CALL-1'), info: Uint8Array.of(9) }));
    a.tnc.receiveFromAir(Uint8Array.of(1, 2, 3));
    a.tnc.receiveFromAir(encodeAx25Ui({ destination: parseCallsign('ALTNET'), source: parseCallsign('W1AW'), info: Uint8Array.of(42) }));
    await until('the valid frame after the junk', () => a.received.length === 2);
    expect([...a.received[1]]).toEqual([42]);
    expect(ca.get('ax25_foreign')).toBe(1);
    expect(ca.get('ax25_own_echo')).toBe(1);
    expect(ca.get('ax25-too-short')).toBe(1);

    await expect(a.t.send(new Uint8Array(257))).rejects.toBeInstanceOf(FrameTooLargeError);
    expect(ca.get('frames_too_large')).toBe(1);
  });

  /**
   * A KISS TCP server on loopback (a Dire Wolf stand-in): its connections, the frames clients sent
   * it, and transport() for a Dire Wolf KISS transport (ham0, N0CALL-7) that dials it.
   */
  async function kissServer() {
    const sockets: Socket[] = [];
    const fromClient: Uint8Array[] = [];
    const server = createServer((sock) => {
      sockets.push(sock);
      const dec = new KissDecoder();
      sock.on('data', (d) => fromClient.push(...dec.push(d).map((f) => f.payload)));
      sock.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    cleanup.push(() => new Promise<void>((r) => server.close(() => r())));
    cleanup.push(async () => sockets.forEach((s) => s.destroy()));
    const port = (server.address() as { port: number }).port;
    const transport = (o: { backoff?: { initialMs: number; maxMs: number }; clock?: ManualClock } = {}) => {
      const counters = new Counters();
      const t = new KissTransport(
        {
          name: 'ham0',
          callsign: 'N0CALL-7',
          profile: findBoardProfile('direwolf'),
          openChannel: tcpChannelFactory('127.0.0.1', port),
          backoff: o.backoff,
        },
        { log: silentLogger(), counters, clock: o.clock },
      );
      cleanup.push(() => t.close());
      return { t, counters };
    };
    return { sockets, fromClient, port, transport };
  }

  it('reconnects to a KISS TCP server that drops the connection, and keeps the frames flowing', async () => {
    const { sockets, fromClient, transport } = await kissServer();
    const { t, counters } = transport({ backoff: { initialMs: 20, maxMs: 100 } });
    const states: LinkState[] = [];
    t.onState((s) => states.push(s));
    const got: Uint8Array[] = [];
    t.onFrame((f) => got.push(f));
    await t.open();
    await until('first connection', () => sockets.length === 1);
    sockets[0].destroy(); // direwolf restarted
    await until('reconnection', () => sockets.length === 2 && t.state === 'up');
    expect(states).toContain('down');
    expect(counters.get('channel_lost')).toBe(1);
    await t.send(Uint8Array.of(1, 2));
    await until('frame over the new connection', () => fromClient.length === 1);
    expect([...decodeAx25Ui(fromClient[0]).info]).toEqual([1, 2]);
    sockets[1].write(
      kissData(0, encodeAx25Ui({ destination: parseCallsign('ALTNET'), source: parseCallsign('W1AW'), info: Uint8Array.of(3) })),
    );
    await until('frame from the new connection', () => got.length === 1);
  });

  it('paces frames to the TNC by their modelled airtime (KISS never says when a frame went out)', async () => {
    const { fromClient, transport } = await kissServer();
    const clock = new ManualClock(0);
    const { t, counters } = transport({ clock });
    await t.open();
    // 200-byte frames: 400 ms TXDELAY+TXTAIL plus (200 + 16 + 6) bytes at 1200 bit/s = 1880 ms.
    const air = t.frameAirtimeMs(200);
    expect(air).toBe(400 + ((200 + 16 + 6) * 8 * 1000) / 1200);
    const sent = [1, 2, 3].map((n) => t.send(new Uint8Array(200).fill(n)));
    // The first frame goes at once: the TNC holds nothing.
    await until('first frame at the TNC', () => fromClient.length === 1);
    await new Promise((r) => setTimeout(r, 100));
    expect(fromClient).toHaveLength(1);
    // The second goes when the first's modelled air ends within the lead.
    clock.advance(air - KISS_TNC_LEAD_MS - 1);
    await new Promise((r) => setTimeout(r, 100));
    expect(fromClient).toHaveLength(1);
    clock.advance(1);
    await until('second frame', () => fromClient.length === 2);
    // The third: after both frames' air, less the lead.
    clock.advance(air - 1);
    await new Promise((r) => setTimeout(r, 100));
    expect(fromClient).toHaveLength(2);
    clock.advance(1);
    await until('third frame', () => fromClient.length === 3);
    await Promise.all(sent);
    expect(counters.get('kiss_paced')).toBe(2);
    expect(fromClient.map((f) => decodeAx25Ui(f).info[0])).toEqual([1, 2, 3]);
  });
});
