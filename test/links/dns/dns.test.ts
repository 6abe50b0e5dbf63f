import { describe, expect, it } from 'vitest';
import { create, createDnsLink } from '../../../src/links/dns/dns.js';
import { ConfigError } from '../../../src/util/errors.js';
import { servedChain } from '../../servers/chain.js';
import { compareRuns, manualTimers, recordingContext } from '../../servers/context.js';
import { startDnsServer, type DnsLie, type DnsServer } from '../../servers/dns-server.js';
import { expectTimedOutNotMarked, itCatchesEachLie, lifecycle } from '../../servers/lifecycle.js';

const chain = servedChain();
const { track, serve } = lifecycle();
const server = (opts: Parameters<typeof startDnsServer>[0] = {}): Promise<DnsServer> => serve(startDnsServer(opts));

describe('headers-over-DNS link', () => {
  for (const format of ['v2', 'v0']) {
    it(`fetches real headers in the ${format} format up to where the zone ends, and reports that as the tip`, async () => {
      const s = await server({ tipHeight: chain.first + 24 });
      const rec = recordingContext();
      const link = track(
        create({ name: 'dns1', type: 'dns', domain: s.domain, server: `127.0.0.1:${s.port}`, format, rate: '0' }, rec.ctx),
      );
      await link.start();
      await link.requestHeaders!([chain.parentHash]);
      expect(compareRuns(rec.all(), chain.headers.slice(0, 25))).toBe('same');
      expect(rec.tips.at(-1)).toEqual({ height: chain.first + 24, hash: chain.hashes[24] });
      expect(s.queries[0]).toBe(`${format === 'v2' ? 'v2.' : ''}${chain.first}.${Math.floor(chain.first / 10000)}.${s.domain}`);
    });
  }

  it('continues from the last header it delivered', async () => {
    const s = await server();
    const rec = recordingContext();
    const link = track(create({ name: 'dns1', domain: s.domain, server: `127.0.0.1:${s.port}`, rate: '0', maxheaders: '16' }, rec.ctx));
    await link.start();
    await link.requestHeaders!([chain.parentHash]);
    await link.requestHeaders!([chain.hashes[15], chain.parentHash]);
    expect(compareRuns(rec.all(), chain.headers.slice(0, 32))).toBe('same');
    expect(rec.counters.get('headers')).toBe(32);
  });

  it('resolves a locator through the gateway context with one query instead of starting from the checkpoint', async () => {
    const s = await server({ tipHeight: chain.first + 60 });
    const rec = recordingContext();
    const link = track(create({ name: 'dns1', domain: s.domain, server: `127.0.0.1:${s.port}`, rate: '0' }, rec.ctx));
    await link.start();
    link.setContext!(chain.first + 30, chain.headers.slice(30, 51));
    await link.requestHeaders!([chain.hashes[50], chain.hashes[49], chain.parentHash]);
    expect(s.queries[0]).toBe(`v2.${chain.first + 50}.${Math.floor(chain.first / 10000)}.${s.domain}`);
    expect(compareRuns(rec.all(), chain.headers.slice(51, 61))).toBe('same');
    expect(rec.tips.at(-1)?.height).toBe(chain.first + 60);
  });

  const lies: Array<[DnsLie, string]> = [
    ['bad-pow', 'lie.bad-pow'],
    ['disconnected', 'lie.disconnected'],
  ];
  itCatchesEachLie('zone', lies, [chain.parentHash], async (lie) => {
    const s = await server({ lie });
    const rec = recordingContext();
    const link = track(create({ name: 'liar', domain: s.domain, server: `127.0.0.1:${s.port}`, rate: '0', maxheaders: '30' }, rec.ctx));
    return { link, rec, asked: () => s.queries.length };
  });

  it('counts a malformed answer without marking the zone', async () => {
    const s = await server({ lie: 'bad-version' });
    const rec = recordingContext();
    const link = track(create({ name: 'odd', domain: s.domain, server: `127.0.0.1:${s.port}`, rate: '0', maxheaders: '30' }, rec.ctx));
    await link.start();
    await link.requestHeaders!([chain.parentHash]);
    expect(rec.counters.get('failure.dns-bad-version')).toBe(1);
    expect(rec.counters.get('lies')).toBe(0);
    expect(rec.all()).toHaveLength(0);
  });

  it('counts a server that never answers as a timeout, without marking it', async () => {
    const s = await server({ stall: true });
    const rec = recordingContext();
    const timers = manualTimers();
    const link = track(
      createDnsLink(
        {
          name: 'slow',
          domain: s.domain,
          format: 'v2',
          server: { host: '127.0.0.1', port: s.port },
          timeoutMs: 60_000,
          concurrency: 1,
          ratePerSecond: 0,
          timers,
        },
        rec.ctx,
      ),
    );
    await link.start();
    const asked = s.nextQuery();
    const done = link.requestHeaders([chain.parentHash]);
    await asked;
    await expectTimedOutNotMarked(timers, 60_000, done, link, rec);
  });

  it('validates its configuration with clear errors', () => {
    const { ctx } = recordingContext();
    expect(() => create({ name: 'x' }, ctx)).toThrow(/link\.x\.domain is required/);
    expect(() => create({ name: 'x', domain: 'bad domain' }, ctx)).toThrow(/not a domain name/);
    expect(() => create({ name: 'x', domain: 'a.b', server: 'resolver.example:53' }, ctx)).toThrow(/IP address/);
    expect(() => create({ name: 'x', domain: 'a.b', format: 'v3' }, ctx)).toThrow(ConfigError);
    expect(() => create({ name: 'x', domain: 'a.b', server: '127.0.0.1' }, ctx)).toThrow(/host:port/);
    expect(create({ name: 'x', domain: 'a.b', server: '[::1]:5353' }, ctx).capabilities.carries).toEqual(['headers']);
  });
});
