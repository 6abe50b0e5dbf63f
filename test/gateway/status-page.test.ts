// The status page renderer and server: escapes what remote parties control, renders whatever
// sections are present, refuses non-loopback Host headers and anything but GET/HEAD.
import { describe, expect, it } from 'vitest';
import { esc, renderStatusBody, renderStatusPage, startStatusServer, STATUS_SCRIPT } from '../../src/gateway/status-page.js';
import { memoryLogger } from '../../src/util/log.js';
import { pendingTx } from '../helpers/status.js';
import { request } from 'node:http';

const NOW = Date.parse('2026-11-30T12:00:00Z');
const status = {
  version: '0.1.0',
  network: 'regtest',
  mode: 'receive-only',
  startedAt: '2026-11-30T11:00:00.000Z',
  updatedAt: '2026-11-30T12:00:00.000Z',
  node: {
    connections: 1,
    peers: [{ id: 'p1', transport: 'v2', agent: '<script>alert(1)</script>' }],
    tip: { height: 3, hash: 'ab'.repeat(32) },
  },
  chain: { height: 40, hash: 'cd'.repeat(32), chainWork: '0x52' },
  agreement: {
    agreeing: 2,
    sources: 3,
    best: { height: 40, chainWork: '0x52' },
    standings: [],
    summary: '2 of 3 independent source(s) agree on the best chain (height 40); <b>dns</b> behind at 38',
  },
  links: [
    {
      name: 'air',
      type: 'sim',
      state: 'up',
      lastFailure: '',
      restarts: 0,
      direction: 'rx',
      carries: ['headers'],
      counters: { frames_rx: 12 },
      radio: { lastFrameAt: '2026-11-30T11:59:50.000Z', airtimeUsedMs: 1500, airtimeBudgetMs: 36000, airtimeWindowMs: 3600000 },
    },
    {
      name: 'kiss0',
      type: 'kiss',
      state: 'down',
      lastFailure: 'TNC refused: <img src=x onerror=alert(2)>',
      restarts: 2,
      direction: 'duplex',
      carries: [],
      counters: {},
    },
    {
      name: 'esplora0',
      type: 'esplora',
      state: 'down',
      lastFailure: 'GET blocks/tip/height: HTTP 503',
      restarts: 0,
      direction: 'duplex',
      carries: ['headers', 'tx', 'blocks'],
      counters: {},
      poll: { nextAt: '2026-11-30T12:04:00.000Z', why: 'backoff', failures: 3 },
    },
  ],
  anomalies: [{ kind: 'link-silent', key: 'link-silent:air', since: '2026-11-30T11:30:00.000Z', detail: 'link air has heard no frame' }],
  anomalyHistory: [{ at: '2026-11-30T11:30:00.000Z', event: 'raised', kind: 'link-silent', key: 'link-silent:air', detail: 'd' }],
  sync: {
    what: 'header sync',
    unit: 'headers',
    done: 300,
    target: 600,
    percent: 50,
    rate: 100,
    etaSeconds: 3,
    startedAt: '',
    finished: false,
  },
  rescues: [{ block: 'ef'.repeat(32), state: 'fetching', via: 'esplora0' }],
  pendingTx: [],
  counters: {},
};

describe('status page rendering', () => {
  it('says when a failed rescue is tried next', () => {
    const failed = { id: 2, state: 'failed', reason: 'no block arrived', failuresInARow: 3, nextTryAt: '2026-11-30T12:02:00.000Z' };
    const html = renderStatusBody({ ...status, rescues: [failed] }, NOW);
    expect(html).toContain('<p class="why">rescue failed 3 time(s) in a row; next try in 2 min (2026-11-30T12:02:00.000Z)</p>');
    const retrying = renderStatusBody(
      {
        ...status,
        rescues: [
          { id: 3, state: 'fetching' },
          { ...failed, nextTryAt: undefined },
        ],
      },
      NOW,
    );
    expect(retrying).not.toContain('next try');
  });

  it('shows an outbox transaction acknowledged over radio as relayed, and one not yet as sending', () => {
    const html = renderStatusBody({ ...status, pendingTx: [pendingTx('aa'.repeat(32), true), pendingTx('bb'.repeat(32), false)] }, NOW);
    const rows = /<section id="pending">.*?<\/section>/s.exec(html)![0].split('<tr>').slice(2);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toContain('aaaaaaaa…aaaaaaaa');
    expect(rows[0]).toContain('<span class="state ok">relayed</span> via air 20 s ago');
    expect(rows[0]).toContain('no more radio resends');
    expect(rows[1]).toContain('<span class="state warn">sending</span>');
    expect(rows[1]).not.toContain('relayed');
    expect(rows[1]).toContain('3, last 30 s ago on air');
  });

  it('escapes every value a remote party may control', () => {
    expect(esc(`<a href="x">'&`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;');
    const html = renderStatusBody(status, NOW);
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<img');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('TNC refused: &lt;img src=x onerror=alert(2)&gt;');
  });

  it('shows node, chain with sync progress, links with state and radio, anomalies with history, rescues, pending', () => {
    const html = renderStatusBody(status, NOW);
    expect(html).toContain('1 anomaly: link-silent');
    expect(html).toMatch(/header sync: 300 of 600 \(50\.0 %\), 100 headers\/s, 3 s to go/);
    expect(html).toContain('<span class="state ok">up</span>');
    expect(html).toContain('<span class="state bad">down</span>');
    expect(html).toContain('last frame heard 10 s ago');
    expect(html).toContain(
      'agreement: 2 of 3 independent source(s) agree on the best chain (height 40); &lt;b&gt;dns&lt;/b&gt; behind at 38',
    );
    expect(html).toContain('next poll in 4 min (backing off after 3 failure(s) in a row)');
    const recovered = renderStatusBody({ ...status, links: [{ ...status.links[1], state: 'up' }] }, NOW);
    expect(recovered).toContain('<span class="meta">earlier: TNC refused');
    expect(html).toContain('airtime 1.5 s used, 34.5 s left this 60 min');
    expect(html).not.toContain('compressed time');
    // A simulated link on compressed time (the demo's --timescale) says its airtime figures are.
    const air = { ...status.links[0], radio: { ...status.links[0].radio, timescale: 13 } };
    expect(renderStatusBody({ ...status, links: [air] }, NOW)).toContain(
      'airtime 1.5 s used, 34.5 s left this 60 min of compressed time (this simulated link runs 13x faster than real time)',
    );
    expect(html).toMatch(/<h3>History<\/h3>.*raised/s);
    expect(html).toContain('fetching');
    expect(html).toMatch(/Pending transactions<\/h2><p>none/);
    const calm = renderStatusBody({ ...status, anomalies: [], rescues: undefined }, NOW);
    expect(calm).toContain('no anomalies');
    expect(calm).toMatch(/Rescues<\/h2><p>none/);
    // A status of another shape (an older daemon) renders without throwing.
    expect(() => renderStatusBody({}, NOW)).not.toThrow();
    const page = renderStatusPage(status, 2, NOW);
    expect(page).toContain('<script src="/status.js"></script>');
    expect(page).not.toMatch(/<script>[^<]/);
    expect(STATUS_SCRIPT).toContain('/status.fragment');
  });
});

function get(
  port: number,
  path: string,
  opts: { host?: string; method?: string } = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.host ? { host: opts.host } : {} },
      (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('status server', () => {
  it('serves /, /status.json, /status.js and /status.fragment read-only on loopback, with a strict CSP', async () => {
    const s = await startStatusServer({ host: '127.0.0.1', port: 0, log: memoryLogger(), status: () => status });
    try {
      const page = await get(s.port, '/');
      expect(page.status).toBe(200);
      expect(page.headers['content-security-policy']).toContain("script-src 'self'");
      expect(page.body).toContain('altnet');
      const json = await get(s.port, '/status.json');
      expect(JSON.parse(json.body).links[1].lastFailure).toContain('TNC refused');
      expect((await get(s.port, '/status.js')).headers['content-type']).toContain('javascript');
      expect((await get(s.port, '/status.fragment')).body).toContain('id="links"');
      expect((await get(s.port, '/metrics')).status).toBe(404);
      expect((await get(s.port, '/', { method: 'POST' })).status).toBe(405);
      // DNS rebinding: a page from evil.example resolved to 127.0.0.1 sends its own Host.
      expect((await get(s.port, '/status.json', { host: 'evil.example' })).status).toBe(403);
      expect((await get(s.port, '/status.json', { host: `localhost:${s.port}` })).status).toBe(200);
    } finally {
      await s.close();
    }
  });

  it('refuses a non-loopback address', async () => {
    await expect(startStatusServer({ host: '0.0.0.0', port: 0, log: memoryLogger(), status: () => status })).rejects.toThrow(
      /not loopback/,
    );
  });
});

describe('status page on a running gateway', () => {
  it('shares the metrics listener when status= and metrics= name the same address', async () => {
    const { Gateway } = await import('../../src/gateway/gateway.js');
    const { NETWORKS } = await import('../../src/chain/networks.js');
    const { createServer } = await import('node:net');
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as import('node:net').AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const gw = await Gateway.start({
      network: NETWORKS.regtest,
      listen: { host: '127.0.0.1', port: 0 },
      links: [],
      log: memoryLogger(),
      metrics: { host: '127.0.0.1', port },
      status: { host: '127.0.0.1', port },
    });
    try {
      expect(gw.statusPort).toBe(port);
      const metrics = await get(port, '/metrics');
      expect(metrics.status).toBe(200);
      expect(metrics.body).toMatch(/^altnet_chain_height 0$/m);
      const json = JSON.parse((await get(port, '/status.json')).body);
      expect(json).toMatchObject({ network: 'regtest', anomalies: [], anomalyHistory: [] });
      expect((await get(port, '/')).body).toContain('no anomalies');
    } finally {
      await gw.stop();
    }
  });
});
