// The watchdog path end to end, on a running gateway with real parts: regtest Bitcoin Core A is
// eclipsed (its only peer is altnet); regtest Bitcoin Core B is reachable only through altnet's
// `p2p` link (a child process). The gateway's clock is injected and moved by the test, so a
// stale tip and the link-more-work grace period need no sleeping.
//
//   1. A mines 3 blocks; the gateway learns A's tip from A's announcement.
//   2. B mines a longer chain; the link does not fetch it on its own (it only follows
//      announcements that extend what it already delivered, and it has delivered nothing yet).
//   3. The clock moves 2 h past A's tip: stale-tip is raised, the gateway anycasts, the link asks
//      B, and A's header chain reaches B's tip.
//   4. B's chain (reported by the link) has more work than A's tip: after the 60 s grace period
//      on the injected clock, the gateway's periodic watchdog check raises link-more-work and
//      the gateway anycasts again.
//   5. A mines a block stamped at the moved clock's time: its tip is fresh, stale-tip clears.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NETWORKS } from '../../src/chain/networks.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/util/log.js';
import { BitcoindProcess, sleep } from '../harness/bitcoind.js';
import { until } from '../helpers/wait.js';

const REGTEST = NETWORKS.regtest;

describe('watchdog on a running gateway: stale tip and a link with more work trigger anycast', () => {
  const log = memoryLogger();
  let nodeA: BitcoindProcess;
  let nodeB: BitcoindProcess;
  let gw: Gateway | undefined;
  /** The gateway's clock (seconds since the epoch); frozen, moved only by the test. */
  let now = Math.floor(Date.now() / 1000);
  let aTip: { hash: string; height: number; time: number };
  let bTip: { hash: string; height: number };

  const logTail = () => log.lines.slice(-40).join('\n');
  const anomalies = () => gw!.status().anomalies;
  const linkB = () => gw!.status().links.find((l) => l.name === 'b')!;
  const driverCounter = (name: string) => gw!.link('b')?.driverCounters[name] ?? 0;

  beforeAll(async () => {
    // B answers getheaders even at genesis (Core ignores them in initial block download unless
    // the peer has the `download` permission).
    nodeB = new BitcoindProcess({ name: 'B', args: ['-whitelist=download@127.0.0.1'] });
    await nodeB.start();
    gw = await Gateway.start({
      network: REGTEST,
      listen: { host: '127.0.0.1', port: 0 },
      links: [{ name: 'b', type: 'p2p', options: { type: 'p2p', peer: `127.0.0.1:${nodeB.p2pPort}` } }],
      log,
      nowSeconds: () => now,
    });
    // A's mock clock jumps 2 h forward in the last test; without a long peer timeout Core would
    // take that as 2 h of silence and drop altnet.
    nodeA = new BitcoindProcess({ name: 'A', args: [`-addnode=127.0.0.1:${gw.nodePort}`, '-peertimeout=999999999'] });
    await nodeA.start();
    await until('A connected to altnet', () => gw!.status().node.connections === 1, 30_000, logTail);
    // The link came up and its first request (B at genesis) found nothing new.
    await until('link b up and asked once', () => linkB().state === 'up' && driverCounter('headers.none-new') >= 1, 30_000, logTail);
  });

  afterAll(async () => {
    await gw?.stop();
    await Promise.all([nodeA?.stop(), nodeB?.stop()]);
  });

  it("learns A's tip from the node and raises nothing while it is fresh", async () => {
    await nodeA.mine(3);
    const hash = await nodeA.rpc<string>('getbestblockhash');
    const header = await nodeA.rpc<any>('getblockheader', hash);
    aTip = { hash, height: header.height, time: header.time };
    await until("gateway knows A's tip", () => gw!.status().node.tip?.hash === hash, 30_000, logTail);
    expect(gw!.status().node.tip?.height).toBe(3);

    gw!.watchdog.check();
    expect(anomalies()).toEqual([]);

    // B builds a longer chain of its own (to another script than A's, so that no block of B's
    // can equal one of A's); nothing asks the link for it yet.
    const { descriptor } = await nodeB.rpc<{ descriptor: string }>('getdescriptorinfo', 'raw(52)');
    bTip = { hash: (await nodeB.rpc<string[]>('generatetodescriptor', 10, descriptor))[9], height: 10 };
    await sleep(1500);
    expect(gw!.counters.get('link.b.headers_rx')).toBe(0);
    expect(gw!.status().chain.hash).toBe(aTip.hash);
  });

  it("a tip 2 h old raises stale-tip, anycasts, the link asks B, and A's headers reach B's tip", async () => {
    const anycastsBefore = gw!.counters.get('router.anycasts');
    const rxBefore = gw!.counters.get('link.b.headers_rx');
    const staleAfter = gw!.watchdog.staleAfterSeconds;
    expect(staleAfter).toBeLessThan(7200);

    // Just under the threshold: still nothing.
    now = aTip.time + Math.floor(staleAfter) - 5;
    gw!.watchdog.check();
    expect(anomalies()).toEqual([]);
    expect(gw!.counters.get('router.anycasts')).toBe(anycastsBefore);

    now = aTip.time + 7200;
    gw!.watchdog.check();
    const stale = anomalies().find((a) => a.kind === 'stale-tip');
    expect(stale, JSON.stringify(anomalies())).toBeDefined();
    expect(stale!.detail).toContain(aTip.hash);
    expect(stale!.detail).toContain('height 3');
    expect(stale!.detail).toContain('120 min old');
    expect(stale!.detail).toMatch(/cut off from the network/);
    expect(gw!.counters.get('watchdog.raised.stale-tip')).toBe(1);
    expect(gw!.counters.get('router.anycasts')).toBe(anycastsBefore + 1);

    // The anycast reached the link's child process, which fetched B's chain.
    await until("link b delivered B's headers", () => gw!.counters.get('link.b.headers_accepted') >= 10, 30_000, logTail);
    expect(gw!.counters.get('link.b.headers_rx') - rxBefore).toBe(10);
    expect(gw!.status().chain).toMatchObject({ height: 10, hash: bTip.hash });
    await until(
      'driver counted the headers',
      () => driverCounter('headers') >= 10,
      10_000,
      () => JSON.stringify(linkB().counters),
    );

    await nodeA.waitFor("A has B's headers", async () => {
      const tips = await nodeA.rpc<any[]>('getchaintips');
      return tips.some((t) => t.hash === bTip.hash && t.height === bTip.height);
    });
    expect((await nodeA.rpc<any>('getblockchaininfo')).headers).toBe(bTip.height);

    // Checking again while the condition holds raises nothing new and does not anycast again.
    const anycasts = gw!.counters.get('router.anycasts');
    gw!.watchdog.check();
    expect(gw!.counters.get('watchdog.raised.stale-tip')).toBe(1);
    expect(gw!.counters.get('router.anycasts')).toBe(anycasts);
  });

  it(
    'the link reporting more work than the node raises link-more-work after the grace period, then anycasts',
    { timeout: 60_000 },
    async () => {
      // The link reported B's tip with the headers; A has only announced its own 3 blocks (it
      // has B's headers but not B's blocks), so the watchdog sees the link ahead of the node.
      expect(anomalies().some((a) => a.kind === 'link-more-work')).toBe(false);
      const anycastsBefore = gw!.counters.get('router.anycasts');
      const noneNewBefore = driverCounter('headers.none-new');
      const t0 = now;

      now = t0 + 30; // inside the grace period
      gw!.watchdog.check();
      expect(anomalies().some((a) => a.kind === 'link-more-work')).toBe(false);
      expect(gw!.counters.get('router.anycasts')).toBe(anycastsBefore);

      // Past the grace period, no explicit check: the gateway's own periodic check (every 10 s)
      // must find it.
      now = t0 + 61;
      await until('the periodic check raised link-more-work', () => anomalies().some((a) => a.kind === 'link-more-work'), 25_000, logTail);
      const more = anomalies().find((a) => a.kind === 'link-more-work');
      expect(more, JSON.stringify(anomalies())).toBeDefined();
      expect(more!.detail).toContain('link b');
      expect(more!.detail).toContain(`height ${bTip.height}`);
      expect(more!.detail).toContain('(height 3)');
      expect(more!.detail).toMatch(/eclipsed/);
      // It says how many independent sources back the best chain: the one p2p link, at B's tip.
      expect(more!.detail).toContain(`; 1 of 1 independent source(s) agree on the best chain (height ${bTip.height})`);
      expect(more!.agreement).toMatchObject({ agreeing: 1, sources: 1, best: { height: bTip.height } });
      expect(gw!.counters.get('watchdog.raised.link-more-work')).toBe(1);
      expect(gw!.counters.get('router.anycasts')).toBe(anycastsBefore + 1);
      // The link asked B again; B has nothing beyond what the gateway already holds.
      await until('link b asked again', () => driverCounter('headers.none-new') > noneNewBefore, 15_000, logTail);
      // Stale-tip is still active beside it.
      expect(
        anomalies()
          .map((a) => a.kind)
          .sort(),
      ).toEqual(['link-more-work', 'stale-tip']);
    },
  );

  it('stale-tip clears once the node announces a fresh tip', { timeout: 120_000 }, async () => {
    // A's block is stamped at the gateway's (moved) clock, as if time had really passed. The mock
    // clock and the mining go in one JSON-RPC batch: A still has B's blocks in flight from
    // altnet (which serves none), and Core drops a peer whose block is 2 h overdue, so A would
    // likely drop altnet before announcing if its message thread ran between two separate calls.
    // (If it does anyway, A reconnects and altnet learns the tip from A's getheaders answer.)
    const batch = await fetch(`http://127.0.0.1:${nodeA.rpcPort}/`, {
      method: 'POST',
      headers: { authorization: 'Basic ' + Buffer.from('altnet:altnet-test').toString('base64'), 'content-type': 'application/json' },
      body: JSON.stringify([
        { jsonrpc: '1.0', id: 1, method: 'setmocktime', params: [now] },
        {
          jsonrpc: '1.0',
          id: 2,
          method: 'generatetoaddress',
          params: [1, 'bcrt1qft5p2uhsdcdc3l2ua4ap5qqfg4pjaqlp250x7us7a8qqhrxrxfsqseac85'],
        },
      ]),
    }).then((r) => r.json() as Promise<Array<{ id: number; result: any; error: unknown }>>);
    expect(batch.map((r) => r.error)).toEqual([null, null]);
    const hash = batch.find((r) => r.id === 2)!.result[0] as string;
    const header = await nodeA.rpc<any>('getblockheader', hash);
    expect(Math.abs(header.time - now)).toBeLessThanOrEqual(1);
    await until("the watchdog saw A's new tip", () => gw!.counters.get('watchdog.cleared.stale-tip') === 1, 90_000, logTail);
    expect(gw!.chain.getByHash(Buffer.from(hash, 'hex').reverse())?.height).toBe(4);

    expect(anomalies().some((a) => a.kind === 'stale-tip')).toBe(false);
    expect(gw!.counters.get('watchdog.cleared.stale-tip')).toBe(1);
    expect(log.lines.some((l) => l.includes('anomaly cleared') && l.includes('stale-tip'))).toBe(true);
    // A's fresh block is still on its own shorter chain: B's chain has more work, so that stays.
    expect(anomalies().map((a) => a.kind)).toEqual(['link-more-work']);
    expect(gw!.counters.get('watchdog.active')).toBe(1);
  });
});
