// The metrics endpoint of a running gateway: a real Gateway with a link driver in its own child
// process (the scripted module driver, delivering real mainnet genesis-era headers), scraped over
// HTTP on loopback. The exposition-format rules themselves are checked in
// test/appliance/metrics.test.ts; this file checks that the gateway's own counters and gauges
// reach the endpoint and follow what happens, and that a non-loopback address is refused at start.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { NETWORKS } from '../../src/chain/networks.js';
import { ALTNET_VERSION, Gateway, type GatewayOptions } from '../../src/gateway/gateway.js';
import { AltnetError } from '../../src/util/errors.js';
import { memoryLogger } from '../../src/util/log.js';
import { freePort } from '../harness/bitcoind.js';
import { REPO_ROOT, SHARED_DATA } from '../harness/data.js';
import { until } from '../helpers/wait.js';

const DRIVER = resolve(REPO_ROOT, 'test/fixtures/drivers/scripted.mjs');

/** Sample lines of an exposition as `name{labels}` -> value, plus each family's TYPE. */
function parse(text: string): { samples: Map<string, number>; types: Map<string, string> } {
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of text.trimEnd().split('\n')) {
    const t = /^# TYPE (\S+) (counter|gauge)$/.exec(line);
    if (t) types.set(t[1], t[2]);
    if (line.startsWith('#')) continue;
    const m = /^(\S+) (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    samples.set(m[1], Number(m[2]));
  }
  return { samples, types };
}

function baseOptions(log: ReturnType<typeof memoryLogger>, links: GatewayOptions['links']): GatewayOptions {
  return {
    network: NETWORKS.main,
    // The genesis-era headers connect to genesis, not to a recent checkpoint.
    checkpoint: null,
    listen: { host: '127.0.0.1', port: 0 },
    links,
    log,
  };
}

describe('metrics endpoint of a running gateway', () => {
  const log = memoryLogger();
  let gw: Gateway | undefined;
  let port = 0;
  const logTail = () => log.lines.slice(-30).join('\n');

  const scrape = async () => {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    return parse(await res.text());
  };

  beforeAll(async () => {
    // Gateway does not expose the metrics server's port, so give it a free one.
    port = await freePort();
    gw = await Gateway.start({
      ...baseOptions(log, [
        { name: 'm', type: 'module', options: { path: DRIVER, behavior: 'headers', file: SHARED_DATA.genesisEraHeaders, count: '10' } },
      ]),
      metrics: { host: '127.0.0.1', port },
    });
    // The driver sends heights 0..9 on start (genesis is already known, 1..9 are new), and
    // answers the anycast made when the link came up with heights 0 and 1 again.
    await until(
      'link m delivered its headers and answered the anycast',
      () => gw!.counters.get('link.m.headers_accepted') === 9 && gw!.counters.get('link.m.headers_rx') === 12,
      30_000,
      logTail,
    );
  });

  afterAll(async () => {
    await gw?.stop();
  });

  it("serves the gateway's counters, gauges and info in Prometheus text", async () => {
    const { samples, types } = await scrape();
    expect(samples.get(`altnet_info{version="${ALTNET_VERSION}",network="main"}`)).toBe(1);
    expect(types.get('altnet_info')).toBe('gauge');

    // Per-link counters carry the link name as a label.
    expect(samples.get('altnet_link_headers_rx_total{link="m"}')).toBe(12);
    expect(samples.get('altnet_link_headers_accepted_total{link="m"}')).toBe(9);
    expect(types.get('altnet_link_headers_rx_total')).toBe('counter');
    expect(samples.get('altnet_link_invalid_headers_total{link="m"}')).toBeUndefined();
    // The chain's own counters.
    expect(samples.get('altnet_chain_accepted_total')).toBe(9);
    expect(samples.get('altnet_chain_duplicates_total')).toBe(3);
    // The link coming up made the router ask every link once.
    expect(samples.get('altnet_router_anycasts_total')).toBe(1);

    // Gauges computed at scrape time.
    expect(samples.get('altnet_chain_height')).toBe(9);
    expect(types.get('altnet_chain_height')).toBe('gauge');
    expect(samples.get('altnet_node_height')).toBe(-1); // no node has connected
    expect(samples.get('altnet_node_connections')).toBe(0);
    expect(samples.get('altnet_watchdog_active_anomalies')).toBe(0);
    expect(samples.get('altnet_uptime_seconds')).toBeGreaterThanOrEqual(0);
    expect(types.get('altnet_uptime_seconds')).toBe('gauge');
  });

  it('follows the counters as the gateway works', async () => {
    // An anycast: the scripted driver answers a request with the file's first 2 headers.
    expect(gw!.router.requestHeadersEverywhere('metrics test')).toBe(1);
    await until('the answer arrived', () => gw!.counters.get('link.m.headers_rx') === 14, 15_000, logTail);
    const { samples } = await scrape();
    expect(samples.get('altnet_router_anycasts_total')).toBe(2);
    expect(samples.get('altnet_link_headers_rx_total{link="m"}')).toBe(14);
    // Both were already known: nothing new accepted, the height stays.
    expect(samples.get('altnet_link_headers_accepted_total{link="m"}')).toBe(9);
    expect(samples.get('altnet_chain_duplicates_total')).toBe(5);
    expect(samples.get('altnet_chain_height')).toBe(9);
  });

  it("reports each process's memory and event-loop lag, the link driver's process included", async () => {
    // The driver reports every 2 s; wait for its first report.
    await until(
      'the driver reported its process figures',
      () => gw!.link('m')!.driverCounters['process.rss_bytes'] !== undefined,
      15_000,
      logTail,
    );
    const { samples, types } = await scrape();
    const pid = gw!.link('m')!.pid!;
    expect(types.get('altnet_process_resident_memory_bytes')).toBe('gauge');
    const mainRss = samples.get('altnet_process_resident_memory_bytes{process="main"}')!;
    const linkRss = samples.get('altnet_process_resident_memory_bytes{process="link:m"}')!;
    // Plausible, and the link's figure is its own process's (read from /proc), not ours.
    expect(mainRss).toBeGreaterThan(20e6);
    const procRss = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
    expect(linkRss).toBeGreaterThan(10e6);
    expect(Math.abs(linkRss - procRss) / procRss).toBeLessThan(0.5);
    expect(types.get('altnet_process_eventloop_lag_seconds')).toBe('gauge');
    for (const p of ['main', 'link:m']) {
      const lag = samples.get(`altnet_process_eventloop_lag_seconds{process="${p}"}`);
      expect(lag, p).toBeGreaterThanOrEqual(0);
      expect(lag, p).toBeLessThan(5);
    }
    // No family is both a counter and a gauge; no gauge has _total.
    for (const [name, type] of types) {
      if (type === 'gauge') expect(name).not.toMatch(/_total$/);
      expect(types.has(name.replace(/_total$/, '')) && types.has(`${name.replace(/_total$/, '')}_total`)).toBe(false);
    }
  });

  it('answers only GET on /metrics (and /)', async () => {
    const notFound = await fetch(`http://127.0.0.1:${port}/status`);
    expect(notFound.status).toBe(404);
    expect(await notFound.text()).toContain('/metrics');
    const post = await fetch(`http://127.0.0.1:${port}/metrics`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
  });
});

describe('metrics address', () => {
  for (const host of ['0.0.0.0', '192.0.2.1', '::']) {
    it(`refuses ${host} at Gateway.start with a clear error and leaves nothing listening`, async () => {
      const log = memoryLogger();
      const nodePort = await freePort();
      let err: unknown;
      try {
        const gw = await Gateway.start({
          ...baseOptions(log, []),
          listen: { host: '127.0.0.1', port: nodePort },
          metrics: { host, port: 0 },
        });
        await gw.stop(); // only reached if the test is about to fail
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(AltnetError);
      expect((err as AltnetError).code).toBe('metrics-not-loopback');
      expect((err as Error).message).toContain(`metrics address ${host} is not loopback`);
      expect((err as Error).message).toMatch(/127\.0\.0\.1 or ::1/);
      // The node listener opened before the refusal was closed again: its port is free.
      await new Promise<void>((res, rej) => {
        const s = createServer();
        s.once('error', rej);
        s.listen(nodePort, '127.0.0.1', () => s.close(() => res()));
      });
    });
  }
});
