// Long header syncs finish by themselves, and a full disk loses nothing.
//  - Each internet header source (Electrum, Esplora, headers over DNS: local servers with the real
//    mainnet headers 822528..; p2p: a real Bitcoin Core 30.2 regtest node 4,100 blocks ahead)
//    syncs a chain several of its batches long to the end, with no anomaly: a batch that moves
//    altnet's tip is followed at once by the next request.
//  - The header file on a small tmpfs fills mid-sync (ENOSPC): the headers that could not be
//    written are not taken as delivered; once space is freed the store is retried and the links
//    and the node are asked again, without a restart. The node (Core A) ends with every header,
//    and the reopened file holds them all.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NETWORKS } from '../../src/chain/networks.js';
import { HeaderChain } from '../../src/chain/chain.js';
import { Gateway, type LinkSpec } from '../../src/gateway/gateway.js';
import { Counters } from '../../src/util/counters.js';
import { memoryLogger, silentLogger } from '../../src/util/log.js';
import { BitcoindProcess, sleep } from '../harness/bitcoind.js';
import { servedChain } from '../servers/chain.js';
import { startDnsServer } from '../servers/dns-server.js';
import { startElectrumServer } from '../servers/electrum-server.js';
import { startEsploraServer } from '../servers/esplora-server.js';
import { until } from '../helpers/wait.js';

const served = servedChain();
const BLOCKS = 4100;

const cleanup: Array<() => Promise<unknown> | unknown> = [];

async function gatewayWith(network: 'main' | 'regtest', link: LinkSpec, extra: Partial<Parameters<typeof Gateway.start>[0]> = {}) {
  const log = memoryLogger();
  const gw = await Gateway.start({
    network: NETWORKS[network],
    ...(network === 'regtest' ? { checkpoint: null } : {}),
    listen: { host: '127.0.0.1', port: 0 },
    links: [link],
    log,
    ...extra,
  });
  cleanup.push(() => gw.stop());
  return { gw, log };
}

describe('header syncs', () => {
  let nodeB: BitcoindProcess;

  beforeAll(async () => {
    nodeB = new BitcoindProcess({ name: 'B' });
    await nodeB.start();
    await nodeB.mine(BLOCKS);
  }, 120_000);

  afterAll(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
    await nodeB?.stop();
  });

  it('every header source finishes a sync several batches long by itself', async () => {
    const electrum = await startElectrumServer();
    const esplora = await startEsploraServer({ tipHeight: served.first + 1999 });
    const dns = await startDnsServer({ tipHeight: served.first + 799 });
    cleanup.push(
      () => electrum.close(),
      () => esplora.close(),
      () => dns.close(),
    );
    const runs = await Promise.all([
      // 8,065 headers in 2016-header batches.
      gatewayWith('main', { name: 'e', type: 'electrum', options: { type: 'electrum', server: `127.0.0.1:${electrum.port}` } }).then(
        (g) => ({ ...g, want: served.last }),
      ),
      // 2,000 headers in 500-header batches.
      gatewayWith('main', { name: 'w', type: 'esplora', options: { type: 'esplora', url: esplora.url, rate: '0' } }).then((g) => ({
        ...g,
        want: served.first + 1999,
      })),
      // 800 headers in 200-header batches.
      gatewayWith('main', {
        name: 'd',
        type: 'dns',
        // A loaded CI machine can take seconds to answer one query: a timeout costs a backoff retry.
        options: { type: 'dns', domain: dns.domain, server: `127.0.0.1:${dns.port}`, rate: '0', timeout: '20000' },
      }).then((g) => ({ ...g, want: served.first + 799 })),
      // 4,100 headers from Core in 2000-header batches.
      gatewayWith('regtest', { name: 'p', type: 'p2p', options: { type: 'p2p', peer: `127.0.0.1:${nodeB.p2pPort}` } }).then((g) => ({
        ...g,
        want: BLOCKS,
      })),
    ]);
    for (const { gw, log, want } of runs) {
      const name = gw.opts.links[0].type;
      await until(
        `${name} sync to ${want}`,
        () => gw.chain.tip().height === want,
        30_000,
        () => `${name} at ${gw.chain.tip().height}\n${log.lines.slice(-10).join('\n')}`,
      );
      // No anomaly was needed to get there.
      expect(gw.counters.get('router.anycasts')).toBeLessThanOrEqual(1);
      expect(gw.counters.get(`link.${gw.opts.links[0].name}.follow_ups`)).toBeGreaterThanOrEqual(2);
    }
  });

  it('headers that could not be written (disk full) are asked for again once there is space, without a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'altnet-full-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir]);
    } catch (err) {
      throw new Error(`this test needs root to mount a small tmpfs (a real ENOSPC): ${(err as Error).message}`);
    }
    cleanup.push(() => execFileSync('umount', ['-l', dir]));
    // Room for about 1,000 header records (84 bytes each) after the filler.
    writeFileSync(join(dir, 'filler'), new Uint8Array(1024 * 1024 - 88 * 1024));
    const nodeA = new BitcoindProcess({ name: 'A' });
    await nodeA.start();
    cleanup.push(() => nodeA.stop());
    const datadir = join(dir, 'altnet');
    const { gw, log } = await gatewayWith(
      'regtest',
      { name: 'p', type: 'p2p', options: { type: 'p2p', peer: `127.0.0.1:${nodeB.p2pPort}` } },
      { datadir, storeRetryMs: 300 },
    );
    await nodeA.rpc('addnode', `127.0.0.1:${gw.nodePort}`, 'onetry');
    const diag = () => `at ${gw.chain.tip().height}\n${log.lines.slice(-12).join('\n')}`;
    await until('the store failing', () => gw.router.storeFailed, 30_000, diag);
    expect(log.lines.some((l) => l.includes('could not store headers'))).toBe(true);
    const stuck = gw.chain.tip().height;
    expect(stuck).toBeLessThan(BLOCKS);
    await sleep(1000);
    // Nothing more is taken while nothing can be written.
    expect(gw.chain.tip().height).toBe(stuck);
    rmSync(join(dir, 'filler'));
    await until('the sync to finish after space was freed', () => gw.chain.tip().height === BLOCKS, 30_000, diag);
    expect(log.lines.some((l) => l.includes('header store works again'))).toBe(true);
    expect(gw.counters.get('router.store_recovered')).toBe(1);
    await until("A's header chain at B's tip", async () => (await nodeA.rpc<any>('getblockchaininfo')).headers === BLOCKS, 20_000, diag);
    await gw.stop();
    const reopened = await HeaderChain.open(join(datadir, 'headers-regtest.dat'), {
      network: NETWORKS.regtest,
      log: silentLogger(),
      counters: new Counters(),
      checkpoint: null,
    });
    expect(reopened.tip().height).toBe(BLOCKS);
    reopened.close();
  });
});
