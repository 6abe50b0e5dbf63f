// The node port under attack from other local processes, with a real Bitcoin Core 30.2 (A) as
// the node. B mines 200 blocks; A has B's first 100. Hostile clients on loopback:
//  - announce B's headers 1..200 before A connects (a spoofed tip): A must still be pushed the
//    headers it lacks, because what one connection says never changes what another is sent;
//  - squat every slot and reconnect as soon as they are dropped: A, dialling with addnode, must
//    get in within a few seconds and stay;
//  - trickle a 3.9 MB message one byte per 100 ms: dropped within the message grace;
//  - never finish the handshake, or finish it and ask for nothing: dropped at their deadlines,
//    while the real node (which pings and answers at once) is kept.
// Deadlines are shortened for the test through the gateway's nodePeerLimits.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { NETWORKS } from '../../src/chain/networks.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/util/log.js';
import { BitcoindProcess, sleep } from '../harness/bitcoind.js';
import { headersFromNode } from '../harness/gateway.js';
import { connectHostile, type HostilePeer } from '../harness/hostile-peer.js';
import { until } from '../helpers/wait.js';

const regtest = NETWORKS.regtest;

/** Connections that reopen as soon as they are closed, until stopped. */
function flood(port: number, count: number) {
  let stopped = false;
  let opened = 0;
  const open = new Set<net.Socket>();
  const one = () => {
    if (stopped) return;
    const s = net.connect(port, '127.0.0.1');
    opened++;
    open.add(s);
    s.on('error', () => {});
    s.on('close', () => {
      open.delete(s);
      setImmediate(one);
    });
  };
  for (let i = 0; i < count; i++) one();
  return {
    get opened() {
      return opened;
    },
    get open() {
      return open.size;
    },
    stop() {
      stopped = true;
      for (const s of open) s.destroy();
    },
  };
}

describe('node port: no local process can lock the node out or stop its headers', () => {
  let nodeA: BitcoindProcess;
  let nodeB: BitcoindProcess;
  let headers: Uint8Array[];
  let gw: Gateway;
  let plain: Gateway;
  const log = memoryLogger();
  const plainLog = memoryLogger();
  const hostiles: HostilePeer[] = [];
  let cookieDir: string;

  const altnetPeersOfA = async (port: number) =>
    (await nodeA.rpc<any[]>('getpeerinfo')).filter((p) => p.addr === `127.0.0.1:${port}` && p.version > 0);

  beforeAll(async () => {
    nodeA = new BitcoindProcess({ name: 'A' });
    nodeB = new BitcoindProcess({ name: 'B' });
    await Promise.all([nodeA.start(), nodeB.start()]);
    await nodeB.mine(200);
    headers = await headersFromNode(nodeB, 1);
    for (let h = 1; h <= 100; h++) {
      const hash = await nodeB.rpc<string>('getblockhash', h);
      await nodeA.rpc('submitblock', await nodeB.rpc<string>('getblock', hash, 0));
    }
    expect(await nodeA.rpc<number>('getblockcount')).toBe(100);
    // The node's RPC credentials as a cookie file (user:password), as noderpccookie= reads it.
    cookieDir = mkdtempSync(join(tmpdir(), 'altnet-cookie-'));
    writeFileSync(join(cookieDir, '.cookie'), 'altnet:altnet-test');
    gw = await Gateway.start({
      network: regtest,
      checkpoint: null,
      listen: { host: '127.0.0.1', port: 0 },
      links: [],
      log,
      nodeRpc: { host: '127.0.0.1', port: nodeA.rpcPort, cookieFile: join(cookieDir, '.cookie') },
      maxNodeConnections: 8,
      // Long enough that only eviction at the cap can make room in the squatting test.
      nodePeerLimits: { handshakeMs: 60_000, firstRequestMs: 60_000, messageGraceMs: 500 },
    });
    plain = await Gateway.start({
      network: regtest,
      checkpoint: null,
      listen: { host: '127.0.0.1', port: 0 },
      links: [],
      log: plainLog,
      maxNodeConnections: 4,
      nodePeerLimits: { handshakeMs: 800, firstRequestMs: 1500, messageGraceMs: 500 },
    });
  }, 120_000);

  afterAll(async () => {
    for (const h of hostiles) h?.destroy();
    await gw?.stop();
    await plain?.stop();
    await Promise.all([nodeA?.stop(), nodeB?.stop()]);
    if (cookieDir) rmSync(cookieDir, { recursive: true, force: true });
  });

  it('pushes the real node the headers it lacks although another local process announced them first', async () => {
    await nodeA.rpc('addnode', `127.0.0.1:${gw.nodePort}`, 'onetry');
    await until("altnet has A's 100 headers", () => gw.chain.tip().height === 100);
    // The node's own RPC names its connection; it comes first and its tip is the node tip.
    await until('A identified', () => gw.status().node.peers.some((p) => p.node));
    // Another local process announces B's chain before any link brings it.
    const spoofer = await connectHostile(regtest, gw.nodePort, { handshake: true });
    hostiles.push(spoofer);
    spoofer.sendHeaders(headers);
    await until('altnet at 200 from the spoofer', () => gw.chain.tip().height === 200);
    await until(
      "A's header chain at B's tip",
      async () => (await nodeA.rpc<any>('getblockchaininfo')).headers === 200,
      10_000,
      () => log.lines.slice(-15).join('\n'),
    );
    expect(gw.router.nodeTip()?.height).toBe(200);
    expect(spoofer.isClosed()).toBe(false);
  });

  it('lets the node in within seconds while hostile connections squat every slot and reconnect at once', async () => {
    await nodeA.rpc('disconnectnode', `127.0.0.1:${gw.nodePort}`);
    await until('A gone from altnet', () => !gw.status().node.peers.some((p) => p.node));
    // Eight silent squatters that finished the handshake (they fill every slot)...
    for (let i = 0; i < 8; i++)
      hostiles.push(await connectHostile(regtest, gw.nodePort, { handshake: true }).catch(() => undefined as never));
    // ...and 100 more connections reopened as soon as they are dropped.
    const f = flood(gw.nodePort, 100);
    await sleep(500);
    const openedBefore = f.opened;
    await nodeA.rpc('addnode', `127.0.0.1:${gw.nodePort}`, 'onetry');
    const tookMs = await until('altnet identified A', () => gw.status().node.peers.some((p) => p.node), 10_000);
    await until('A connected to altnet', async () => (await altnetPeersOfA(gw.nodePort)).length === 1, 5000);
    // It stays: the flood goes on for three more seconds, and A is identified and never evicted.
    await sleep(3000);
    const held = f.open;
    expect(gw.counters.get('node.evicted.at_cap')).toBeGreaterThan(100);
    const attempts = f.opened - openedBefore;
    f.stop();
    expect((await altnetPeersOfA(gw.nodePort)).length).toBe(1);
    expect(gw.status().node.peers.filter((p) => p.node)).toHaveLength(1);
    expect(tookMs).toBeLessThan(5000);
    console.log(
      `node port: A connected and was identified ${tookMs} ms after addnode and stayed 3 s while 108 hostile ` +
        `connections pressed on 8 slots (${held} flood sockets open at the end, ${attempts} reconnections, ` +
        `${gw.counters.get('node.evicted.at_cap')} evictions at the cap)`,
    );
  });

  it('drops a message trickled one byte per 100 ms within the grace, and keeps the node', async () => {
    await nodeA.rpc('addnode', `127.0.0.1:${plain.nodePort}`, 'onetry');
    await until('A connected to the second gateway', async () => (await altnetPeersOfA(plain.nodePort)).length === 1);
    const slow = await connectHostile(regtest, plain.nodePort, { handshake: true });
    hostiles.push(slow);
    slow.send('ping', new Uint8Array(8));
    const before = plain.counters.get('node.evicted.slow_message');
    const t0 = Date.now();
    slow.trickle(3_900_000, 100);
    await Promise.race([slow.closed, sleep(5000)]);
    const ms = Date.now() - t0;
    expect(slow.isClosed()).toBe(true);
    expect(ms).toBeLessThan(2000);
    expect(plain.counters.get('node.evicted.slow_message')).toBe(before + 1);
    expect((await altnetPeersOfA(plain.nodePort)).length).toBe(1);
    console.log(`node port: a 3.9 MB message at 10 B/s was dropped after ${ms} ms (grace 500 ms, floor 10 kB/s)`);
  });

  it('drops connections that never finish the handshake or never ask for anything, never the node', async () => {
    const mute = await connectHostile(regtest, plain.nodePort);
    const idle = await connectHostile(regtest, plain.nodePort, { handshake: true });
    hostiles.push(mute, idle);
    await Promise.race([Promise.all([mute.closed, idle.closed]), sleep(5000)]);
    expect(mute.isClosed()).toBe(true);
    expect(idle.isClosed()).toBe(true);
    expect(plain.counters.get('node.evicted.handshake_timeout')).toBeGreaterThanOrEqual(1);
    expect(plain.counters.get('node.evicted.no_request')).toBe(1);
    // Core pings right after the handshake: the node was never taken for an idle squatter.
    expect((await altnetPeersOfA(plain.nodePort)).length).toBe(1);
    // Without noderpc, silent squatters at the cap still make room for the node.
    await nodeA.rpc('disconnectnode', `127.0.0.1:${plain.nodePort}`);
    await until('A gone from the second gateway', () => plain.status().node.peers.length === 0);
    for (let i = 0; i < 4; i++) hostiles.push(await connectHostile(regtest, plain.nodePort, { handshake: true }));
    await nodeA.rpc('addnode', `127.0.0.1:${plain.nodePort}`, 'onetry');
    await until('A back on the second gateway', async () => (await altnetPeersOfA(plain.nodePort)).length === 1, 5000);
    expect(plain.counters.get('node.evicted.at_cap')).toBeGreaterThanOrEqual(1);
  });
});
