// Agreement on a running gateway with real link drivers: three Esplora servers on loopback, two
// at the same tip and one two blocks behind. Status (and a raised anomaly's record, and the
// metrics) say 2 of 3 independent sources agree on the best chain; the lagging one is named.
// The headers still went to the chain from whichever source had them (the count gates nothing).
import { afterAll, describe, expect, it } from 'vitest';
import { NETWORKS } from '../../src/chain/networks.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/util/log.js';
import { servedChain } from '../servers/chain.js';
import { startEsploraServer, type EsploraServer } from '../servers/esplora-server.js';
import { until } from '../helpers/wait.js';

const chain = servedChain();

describe('agreement on a running gateway', () => {
  const servers: EsploraServer[] = [];
  let gw: Gateway | undefined;
  afterAll(async () => {
    await gw?.stop();
    for (const s of servers) await s.close();
  });

  it('two sources at the tip and one lagging: 2 of 3 in status, in the anomaly record and in the metrics', async () => {
    const tip = chain.first + 5;
    const [a, b, c] = await Promise.all([
      startEsploraServer({ tipHeight: tip }),
      startEsploraServer({ tipHeight: tip }),
      startEsploraServer({ tipHeight: tip - 2 }),
    ]);
    servers.push(a, b, c);
    const esplora = (name: string, s: EsploraServer) => ({ name, type: 'esplora', options: { type: 'esplora', url: s.url, rate: '0' } });
    const log = memoryLogger();
    gw = await Gateway.start({
      network: NETWORKS.main,
      listen: { host: '127.0.0.1', port: 0 },
      links: [esplora('a', a), esplora('b', b), esplora('lagging', c), esplora('a-again', a)],
      log,
      // No node will connect: node-not-connected is raised at once and carries the count.
      nodeWaitMs: 1,
    });
    const status = () => gw!.status();
    const diag = () => `${JSON.stringify(status().agreement)}\n${log.lines.slice(-15).join('\n')}`;
    // Every link has spoken (four links), and 2 of the 3 servers agree.
    const heard = () => status().agreement.standings.reduce((n, s) => n + s.links.length, 0);
    await until(
      '2 of 3 agree, all four links heard',
      () => heard() === 4 && status().agreement.agreeing === 2 && status().agreement.sources === 3,
      30_000,
      diag,
    );
    expect(status().chain.height).toBe(tip);
    const ag = status().agreement;
    expect(ag.best.height).toBe(tip);
    // Four links, three servers: the two links to server a count once.
    const origin = (s: EsploraServer) => new URL(s.url).host;
    expect(ag.standings.find((s) => s.origin === origin(a))).toMatchObject({ links: ['a', 'a-again'], standing: 'agrees' });
    expect(ag.standings.find((s) => s.origin === origin(c))).toMatchObject({ links: ['lagging'], standing: 'behind', height: tip - 2 });
    expect(ag.summary).toBe(
      `2 of 3 independent source(s) agree on the best chain (height ${tip}); ${origin(c)} (lagging) behind at ${tip - 2}`,
    );
    // The anomaly's record is kept current while it is active (the watchdog checks every 10 s and on every tip).
    await until(
      'node-not-connected carries 2 of 3',
      () => {
        const an = status().anomalies.find((x) => x.kind === 'node-not-connected');
        return an?.agreement?.agreeing === 2 && an.agreement.sources === 3;
      },
      30_000,
      diag,
    );
    expect(status().anomalyHistory.find((e) => e.kind === 'node-not-connected')?.agreement).toBeDefined();
    const meta = (gw as unknown as { metricsMeta(): { gauges: Record<string, number> } }).metricsMeta();
    expect(meta.gauges['watchdog.sources_agreeing']).toBe(2);
    expect(meta.gauges['watchdog.sources_reporting']).toBe(3);
  });
});
