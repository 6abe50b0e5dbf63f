// Honest link states on a running gateway, as `altnet status` and the status page show them:
// an internet source whose server refuses every connection is `down` with the reason (never
// `up`) and backing off (status shows its next poll), and after a clean stop every link is `stopped`, keeping its last failure.
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { NETWORKS } from '../../src/chain/networks.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/util/log.js';
import { until } from '../helpers/wait.js';

async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('link states on a running gateway', () => {
  let gw: Gateway | undefined;
  afterAll(async () => {
    await gw?.stop();
  });

  it('an esplora link whose server refuses connections is down with the reason, then stopped after shutdown', async () => {
    const port = await deadPort();
    const log = memoryLogger();
    gw = await Gateway.start({
      network: NETWORKS.regtest,
      listen: { host: '127.0.0.1', port: 0 },
      links: [{ name: 'esp', type: 'esplora', options: { type: 'esplora', url: `http://127.0.0.1:${port}`, rate: '0' } }],
      log,
    });
    const link = () => gw!.status().links[0];
    const seen = new Set<string>();
    await until('esp down', () => {
      seen.add(link().state);
      return link().state === 'down';
    });
    expect(seen.has('up')).toBe(false);
    expect(link().lastFailure).toMatch(/headers request failed: .*(ECONNREFUSED|refused|fetch failed)/i);
    // Status says when the link asks again and why (driver gauges, reported every 2 s).
    await until('esp backing off in status', () => link().poll?.why === 'backoff');
    expect(link().poll!.failures).toBeGreaterThanOrEqual(1);
    expect(Date.parse(link().poll!.nextAt!)).toBeGreaterThan(Date.now() - 60_000);
    const failure = link().lastFailure;
    await gw.stop();
    const after = gw.status().links[0];
    gw = undefined;
    expect(after.state).toBe('stopped');
    expect(after.lastFailure).toBe(failure);
  });
});
