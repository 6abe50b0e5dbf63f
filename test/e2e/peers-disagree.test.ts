// The third anomaly, with real nodes: the node's own peers disagree with the links. Regtest
// Bitcoin Core A has two peers, a receive-only altnet gateway and C (an attacker on a 3-block
// chain of its own). Honest B (10 blocks) is heard only over the air: B -> beacon gateway ->
// simulated LoRa -> the receiver, which carries headers but no blocks, so altnet cannot rescue
// A by itself. The receiver reads A's getchaintips and getpeerinfo over A's RPC (noderpc,
// cookie auth): the links' chain has more work than A's active tip, yet C has shown A headers
// only up to 3, so after the grace period peers-disagree is raised. When A is given B as a
// peer, B shows it the better chain, A switches to it, and the anomaly clears. The receiver's
// clock is injected so the grace period needs no sleeping. The anomaly says how many independent
// sources back the links' chain (here the one radio link: 1 of 1).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NETWORKS } from '../../src/chain/networks.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/util/log.js';
import { startBeacon, startTestAir, type TestAir } from '../harness/air.js';
import { BitcoindProcess, sleep } from '../harness/bitcoind.js';
import { until } from '../helpers/wait.js';

describe("peers-disagree: the node's own peers keep the better chain from it", () => {
  const log = memoryLogger();
  const dir = mkdtempSync(join(tmpdir(), 'altnet-peers-'));
  let a: BitcoindProcess;
  let b: BitcoindProcess;
  let c: BitcoindProcess;
  let air: TestAir | undefined;
  let beacon: Gateway | undefined;
  let gw: Gateway | undefined;
  let offset = 0;
  let bTip = '';
  const diag = () =>
    `${JSON.stringify(gw?.status().nodeView)} ${JSON.stringify(gw?.status().anomalies)} ${JSON.stringify(gw?.status().chain)}\n${log.lines.slice(-20).join('\n')}`;
  const kinds = () => gw!.status().anomalies.map((x) => x.kind);

  beforeAll(async () => {
    air = await startTestAir({ seed: 5 });
    beacon = await startBeacon(air, { linkName: 'lora0' });
    b = new BitcoindProcess({ name: 'B', args: [`-addnode=127.0.0.1:${beacon.nodePort}`] });
    c = new BitcoindProcess({ name: 'C' });
    await Promise.all([b.start(), c.start()]);
    const { descriptor } = await b.rpc<{ descriptor: string }>('getdescriptorinfo', 'raw(52)');
    bTip = (await b.rpc<string[]>('generatetodescriptor', 10, descriptor))[9];
    await c.mine(3);
    const cookie = join(dir, '.cookie');
    writeFileSync(cookie, 'altnet:altnet-test');
    a = new BitcoindProcess({ name: 'A', args: [`-addnode=127.0.0.1:${c.p2pPort}`] });
    await a.start();
    await a.waitFor("A on C's chain", async () => (await a.rpc<number>('getblockcount')) === 3);
    gw = await Gateway.start({
      network: NETWORKS.regtest,
      listen: { host: '127.0.0.1', port: 0 },
      mode: 'receive-only',
      links: [air.link('lora0', 'rx')],
      log,
      checkpoint: null,
      nowSeconds: () => Math.floor(Date.now() / 1000) + offset,
      nodeRpc: { host: '127.0.0.1', port: a.rpcPort, cookieFile: cookie },
      nodeViewMs: 500,
    });
    await a.rpc('addnode', `127.0.0.1:${gw.nodePort}`, 'onetry');
  });

  afterAll(async () => {
    await Promise.allSettled([gw?.stop(), beacon?.stop()]);
    await Promise.allSettled([a?.stop(), b?.stop(), c?.stop()]);
    await air?.air.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it(
    "raises peers-disagree when the links' chain has more work and no other peer of the node has shown it",
    { timeout: 60_000 },
    async () => {
      // altnet has B's chain from the air and gives A the headers; A cannot get the blocks from C.
      await until("A has B's headers", async () => (await a.rpc<any[]>('getchaintips')).some((t) => t.hash === bTip), 30_000, diag);
      await until(
        'the node view shows C behind',
        () => {
          const v = gw!.status().nodeView as any;
          return v?.otherPeers === 1 && v.peersBestHeight === 3 && v.activeHeight === 3 && gw!.status().chain.height === 10;
        },
        30_000,
        diag,
      );
      await sleep(1200); // a few more polls: the disagreement has been seen since before the jump

      expect(kinds()).not.toContain('peers-disagree'); // within the grace period
      offset += 61;
      await until('peers-disagree raised', () => kinds().includes('peers-disagree'), 10_000, diag);
      const anomaly = gw!.status().anomalies.find((x) => x.kind === 'peers-disagree')!;
      expect(anomaly.detail).toBe(
        "the links show a chain at height 10 with more work than the node's (height 3), but none of the node's 1 other peer(s) has shown it headers beyond height 3: its peers may be hiding the better chain (eclipse)" +
          '; 1 of 1 independent source(s) agree on the best chain (height 10)',
      );
      // The one source (the radio link) backs the best chain; the count informs, it gated nothing:
      // A already had B's headers from that single source.
      expect(anomaly.agreement).toMatchObject({ agreeing: 1, sources: 1, best: { height: 10 } });
      expect(anomaly.agreement!.standings).toEqual([{ origin: 'lora0', links: ['lora0'], height: 10, standing: 'agrees' }]);
      expect(gw!.counters.get('watchdog.raised.peers-disagree')).toBe(1);
    },
  );

  it('clears once a peer of the node shows it the better chain', { timeout: 60_000 }, async () => {
    await a.rpc('addnode', `127.0.0.1:${b.p2pPort}`, 'onetry');
    await a.waitFor("A switched to B's chain", async () => (await a.rpc<string>('getbestblockhash')) === bTip, 30_000);
    await until('peers-disagree cleared', () => !kinds().includes('peers-disagree'), 15_000, diag);
    const v = gw!.status().nodeView as any;
    expect(v).toMatchObject({ activeHeight: 10, activeHash: bTip, otherPeers: 2, peersBestHeight: 10 });
    expect(gw!.counters.get('watchdog.cleared.peers-disagree')).toBe(1);
    expect(
      gw!
        .status()
        .anomalyHistory.filter((e) => e.kind === 'peers-disagree')
        .map((e) => e.event),
    ).toEqual(['raised', 'cleared']);
  });
});
