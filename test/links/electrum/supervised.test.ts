// The internet header-source links as the gateway runs them: each in its own child process
// (gateway/supervisor + driver-host from dist/), configured by name and option strings only,
// talking to local servers. Checks that what a driver reports reaches the main process.
import { afterEach, describe, expect, it } from 'vitest';
import { LinkSupervisor, type SupervisedLinkEvents } from '../../../src/gateway/supervisor.js';
import type { TipReport } from '../../../src/links/link.js';
import { Counters } from '../../../src/util/counters.js';
import { memoryLogger } from '../../../src/util/log.js';
import { servedChain } from '../../servers/chain.js';
import { compareRuns } from '../../servers/context.js';
import { startDnsServer } from '../../servers/dns-server.js';
import { startElectrumServer } from '../../servers/electrum-server.js';
import { startEsploraServer } from '../../servers/esplora-server.js';
import { until } from '../../helpers/wait.js';

const chain = servedChain();
const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

function supervise(type: string, options: Record<string, string>) {
  const got = { headers: [] as Uint8Array[], tips: [] as TipReport[], states: [] as string[] };
  const events: SupervisedLinkEvents = {
    headers: (_l, raw) => {
      got.headers.push(...raw);
      return true;
    },
    tx: () => {},
    tip: (_l, r) => got.tips.push(r),
    state: (_l, s) => got.states.push(s),
  };
  const log = memoryLogger();
  const sup = new LinkSupervisor({ name: `${type}1`, type, options, network: 'main', log, counters: new Counters(), events });
  cleanup.push(() => sup.stop());
  sup.start();
  return { sup, got, log };
}

describe('header-source links in their own process', () => {
  const cases: Array<[string, () => Promise<{ options: Record<string, string>; close(): Promise<void> }>]> = [
    [
      'esplora',
      async () => {
        const s = await startEsploraServer({ tipHeight: chain.first + 30 });
        return { options: { url: s.url, rate: '0' }, close: () => s.close() };
      },
    ],
    [
      'electrum',
      async () => {
        const s = await startElectrumServer({ tipHeight: chain.first + 30 });
        return { options: { server: `127.0.0.1:${s.port}` }, close: () => s.close() };
      },
    ],
    [
      'dns',
      async () => {
        const s = await startDnsServer({ tipHeight: chain.first + 30 });
        return { options: { domain: s.domain, server: `127.0.0.1:${s.port}`, rate: '0' }, close: () => s.close() };
      },
    ],
  ];
  for (const [type, start] of cases) {
    it(`${type}: configured by name, fetches real headers and reports the tip through the supervisor`, async () => {
      const srv = await start();
      cleanup.push(() => srv.close());
      const { sup, got } = supervise(type, srv.options);
      // `up` only after the source answered: Electrum's open talks to it, HTTP and DNS wait
      // for the first request.
      await until('driver said hello', () => sup.capabilities.carries.length > 0);
      if (type !== 'electrum') expect(got.states).not.toContain('up');
      sup.requestHeaders([chain.parentHash]);
      await until('headers and tip', () => got.headers.length === 31 && got.tips.length > 0);
      await until('driver up', () => got.states.includes('up'));
      expect(compareRuns(got.headers, chain.headers.slice(0, 31))).toBe('same');
      expect(got.tips.at(-1)?.height).toBe(chain.first + 30);
    });
  }

  it('a bad option stops the driver with a clear reason instead of running misconfigured', async () => {
    const { sup } = supervise('electrum', { server: 'not-an-address' });
    await until('failure reported', () => sup.reason !== '', 20_000);
    expect(sup.reason).toMatch(/host:port/);
  });
});
