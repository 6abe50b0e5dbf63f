import { describe, expect, it, vi } from 'vitest';
import { create, createElectrumLink } from '../../../src/links/electrum/electrum.js';
import { ConfigError } from '../../../src/util/errors.js';
import { servedChain } from '../../servers/chain.js';
import { compareRuns, manualTimers, recordingContext } from '../../servers/context.js';
import { startElectrumServer, type ElectrumLie, type ElectrumServer } from '../../servers/electrum-server.js';
import { certForSuite } from '../../servers/tls.js';
import { expectTimedOutNotMarked, itCatchesEachLie, lifecycle } from '../../servers/lifecycle.js';

const chain = servedChain();
const cert = certForSuite();
const { track, serve } = lifecycle();
const server = (opts: Parameters<typeof startElectrumServer>[0] = {}): Promise<ElectrumServer> => serve(startElectrumServer(opts));

describe('electrum link', () => {
  it('negotiates 1.4 over TCP and fetches real headers in chunks no larger than the server max', async () => {
    const s = await server({ maxChunk: 1000 });
    const rec = recordingContext();
    const link = track(create({ name: 'el1', type: 'electrum', server: `127.0.0.1:${s.port}`, maxheaders: '2500' }, rec.ctx));
    await link.start();
    expect(s.requests.slice(0, 2)).toEqual(['server.version', 'blockchain.headers.subscribe']);
    await link.requestHeaders!([chain.parentHash]);
    expect(compareRuns(rec.all(), chain.headers.slice(0, 2500))).toBe('same');
    expect(s.requests.filter((m) => m === 'blockchain.block.headers').length).toBeGreaterThanOrEqual(3);
    expect(rec.tips.at(-1)).toEqual({ height: chain.last, hash: chain.hashes.at(-1) });
    expect(rec.states.map((x) => x.state)).toEqual(['starting', 'up']);
  });

  it('finds a locator it never saw by walking back from the tip', async () => {
    const s = await server();
    const rec = recordingContext();
    const link = track(create({ name: 'el1', server: `127.0.0.1:${s.port}` }, rec.ctx));
    await link.start();
    const i = chain.headers.length - 1 - 3000;
    await link.requestHeaders!([chain.hashes[i], chain.parentHash]);
    expect(compareRuns(rec.all(), chain.headers.slice(i + 1, i + 1 + 2016))).toBe('same');
  });

  it('follows tip notifications: a header that extends what it delivered is reported at once', async () => {
    const s = await server({ tipHeight: chain.first + 20 });
    const rec = recordingContext();
    const link = track(create({ name: 'el1', server: `127.0.0.1:${s.port}` }, rec.ctx));
    await link.start();
    await link.requestHeaders!([chain.parentHash]);
    expect(compareRuns(rec.all(), chain.headers.slice(0, 21))).toBe('same');
    s.announce(chain.first + 21);
    await vi.waitFor(() => expect(rec.batches).toHaveLength(2));
    expect(rec.batches[1]).toEqual([chain.headers[21]]);
    expect(rec.tips.at(-1)).toEqual({ height: chain.first + 21, hash: chain.hashes[21] });
  });

  it('reconnects after losing the server, renews the subscription and fetches what it missed', async () => {
    const s = await server({ tipHeight: chain.first + 20 });
    const rec = recordingContext();
    const timers = manualTimers();
    const link = track(
      // random 1/12: the first reconnect is 1/12 of the 1 min full-jitter window.
      createElectrumLink(
        { name: 'back', host: '127.0.0.1', port: s.port, tls: false, pingIntervalMs: 0, timers, random: () => 1 / 12 },
        rec.ctx,
      ),
    );
    await link.start();
    await link.requestHeaders([chain.parentHash]);
    expect(rec.all()).toHaveLength(21);
    s.tipHeight = chain.first + 23;
    s.dropClients();
    await vi.waitFor(() => expect(timers.pending()).toContain(5_000));
    timers.fire((ms) => ms === 5_000);
    await vi.waitFor(() => expect(rec.all()).toHaveLength(24));
    expect(compareRuns(rec.all(), chain.headers.slice(0, 24))).toBe('same');
    expect(rec.tips.at(-1)).toEqual({ height: chain.first + 23, hash: chain.hashes[23] });
    expect(s.requests.filter((m) => m === 'server.version')).toHaveLength(2);
  });

  it('talks TLS to a self-signed server trusted by ca file or by pinned fingerprint, and refuses it otherwise', async () => {
    const { cert: pem, key, certPath, fingerprint256 } = cert();
    const s = await server({ tls: { cert: pem, key }, tipHeight: chain.first + 4 });
    for (const trust of [{ ca: certPath }, { fingerprint: fingerprint256 }] as Record<string, string>[]) {
      const rec = recordingContext();
      const link = track(create({ name: 'el2', server: `127.0.0.1:${s.port}`, tls: '1', ...trust }, rec.ctx));
      await link.start();
      await link.requestHeaders!([chain.parentHash]);
      expect(compareRuns(rec.all(), chain.headers.slice(0, 5))).toBe('same');
    }
    for (const trust of [{}, { fingerprint: 'AB'.repeat(32) }] as Record<string, string>[]) {
      const rec = recordingContext();
      const link = track(create({ name: 'el3', server: `127.0.0.1:${s.port}`, tls: '1', ...trust }, rec.ctx));
      await link.start();
      await link.requestHeaders!([chain.parentHash]);
      expect(rec.all()).toHaveLength(0);
      expect(rec.counters.get('failures')).toBe(2);
      expect(rec.counters.get('lies')).toBe(0);
    }
  });

  const lies: Array<[ElectrumLie, string]> = [
    ['bad-pow', 'lie.bad-pow'],
    ['disconnected', 'lie.disconnected'],
    ['false-tip', 'lie.tip-not-backed'],
    ['short-headers', 'lie.tip-not-backed'],
  ];
  itCatchesEachLie('server', lies, [chain.parentHash], async (lie) => {
    const s = await server({ lie });
    const rec = recordingContext();
    const link = track(create({ name: 'liar', server: `127.0.0.1:${s.port}`, maxheaders: '30' }, rec.ctx));
    return { link, rec, asked: () => s.requests.length };
  });

  it('counts a server that stalls as a timeout, without marking it', async () => {
    const s = await server({ stall: 'headers' });
    const rec = recordingContext();
    const timers = manualTimers();
    const link = track(
      createElectrumLink(
        { name: 'slow', host: '127.0.0.1', port: s.port, tls: false, timeoutMs: 9_000, pingIntervalMs: 0, timers },
        rec.ctx,
      ),
    );
    await link.start();
    const done = link.requestHeaders([chain.parentHash]);
    await s.received('blockchain.block.headers');
    await expectTimedOutNotMarked(timers, 9_000, done, link, rec);
  });

  it('drops a connection whose line exceeds the bound, counts it, and does not mark the server', async () => {
    const s = await server({ overlong: true });
    const rec = recordingContext();
    const link = track(createElectrumLink({ name: 'big', host: '127.0.0.1', port: s.port, tls: false, maxLineBytes: 64 * 1024 }, rec.ctx));
    await link.start();
    await link.requestHeaders([chain.parentHash]);
    expect(rec.counters.get('bad-answers')).toBe(1);
    expect(rec.counters.get('failures')).toBe(1);
    expect(rec.all()).toHaveLength(0);
    expect(link.markedReason).toBeNull();
  });

  it('sends a keepalive server.ping when its timer fires', async () => {
    const s = await server();
    const rec = recordingContext();
    const timers = manualTimers();
    const link = track(
      createElectrumLink({ name: 'ka', host: '127.0.0.1', port: s.port, tls: false, pingIntervalMs: 30_000, timers }, rec.ctx),
    );
    await link.start();
    const ping = s.nextRequest();
    expect(timers.fire((ms) => ms === 30_000)).toBe(1);
    expect(await ping).toBe('server.ping');
    await vi.waitFor(() => expect(timers.pending()).toContain(30_000));
  });

  it('validates its configuration with clear errors', () => {
    const { ctx } = recordingContext();
    expect(() => create({ name: 'x' }, ctx)).toThrow(/link\.x\.server is required/);
    expect(() => create({ name: 'x', server: 'nohostport' }, ctx)).toThrow(/host:port/);
    expect(() => create({ name: 'x', server: 'h:70000' }, ctx)).toThrow(/port must be/);
    expect(() => create({ name: 'x', server: 'h:1', tls: 'maybe' }, ctx)).toThrow(ConfigError);
    expect(() => create({ name: 'x', server: 'h:1', ca: '/x.pem' }, ctx)).toThrow(/need link\.x\.tls=1/);
    expect(() => create({ name: 'x', server: 'h:1', tls: '1', fingerprint: 'abc' }, ctx)).toThrow(/SHA-256/);
    expect(() => create({ name: 'x', server: 'h:1', type: 'esplora' }, ctx)).toThrow(/this driver is electrum/);
    expect(create({ name: 'x', server: '[::1]:50002', tls: '1' }, ctx).capabilities.direction).toBe('rx');
  });
});
