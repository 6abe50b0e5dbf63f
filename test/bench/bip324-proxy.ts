// BIP324 proxy figures (issue 20), the proxy running in its own process (proxy-child.ts) as in
// real use, each beside a reference measured in the same run:
//  - handshakeMs: a v1 client's SOCKS5 connect + version -> verack from a v2 peer through the
//    proxy, against a direct v2 connection (our initiator session) to the same peer;
//  - throughput: 4 MB `block` messages (3,999,000-byte payload), v1 client -> proxy -> v2
//    peer and back, against the same transfer on a direct v2 connection; node:crypto AEAD;
//  - memoryPerConnection: the proxy process's growth per idle proxied connection (after GC);
//  - coreBlockRelay: two Bitcoin Core 30.2 regtest nodes, blocks mined on B, time until A has
//    them (from the two nodes' -logtimemicros UpdateTip lines), over a direct v2 connection
//    and through the proxy (A v1 -> plain front end -to=B -> v2 to B), same nodes, same run.
// Run: npx tsc -p tsconfig.json && node dist/test/bench/run.js proxy
import { fork, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { V2Session } from '../../src/node/v2/session.js';
import { encodeV1Message } from '../../src/node/wire.js';
import { BitcoindProcess } from '../harness/bitcoind.js';
import { MAGIC, until, V1Client, V2Peer, versionPayload } from '../proxy/peers.js';

const BLOCK_PAYLOAD = 3_999_000;
const BLOCKS = 12;
const HANDSHAKES = 20;
const WARM_CONNECTIONS = 50;
const IDLE_CONNECTIONS = 200;
const RELAY_BLOCKS = 30;
const FULL_BLOCKS = 12;

interface Child {
  port: number;
  ask<T>(msg: string, key: string): Promise<T>;
  stop(): Promise<void>;
}

async function startProxyChild(to?: string): Promise<Child> {
  const script = resolve(dirname(fileURLToPath(import.meta.url)), 'proxy-child.js');
  const child: ChildProcess = fork(script, to ? [to] : [], { execArgv: ['--expose-gc'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const port = await new Promise<number>((res, rej) => {
    child.once('message', (m: any) => res(m.port));
    child.once('exit', (code) => rej(new Error(`proxy child exited with ${code}`)));
  });
  return {
    port,
    ask: <T>(msg: string, key: string) =>
      new Promise<T>((res) => {
        const on = (m: any) => {
          if (m[key] === undefined) return;
          child.off('message', on);
          res(m as T);
        };
        child.on('message', on);
        child.send(msg);
      }),
    stop: () =>
      new Promise<void>((res) => {
        child.once('exit', () => res());
        child.send('stop');
      }),
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const r2 = (x: number) => Math.round(x * 100) / 100;

/** A direct v2 client of the peer (the reference): our initiator session over plain TCP. */
async function directV2(port: number, countOnly = false) {
  const s = connect(port, '127.0.0.1');
  s.setNoDelay(true);
  await new Promise<void>((res) => s.once('connect', () => res()));
  const session = new V2Session({ magic: MAGIC, role: 'initiator', aead: 'node', garbageLen: 0 });
  const state = { verack: false, rawBytes: 0 };
  s.on('data', (chunk: Buffer) => {
    state.rawBytes += chunk.length;
    if (countOnly && state.verack) return;
    const r = session.receive(chunk);
    for (const b of r.send) s.write(b);
    if (r.messages.some((m) => m.command === 'verack')) state.verack = true;
  });
  s.write(session.start());
  await until('v2 key exchange', () => session.canSend);
  s.write(session.encodeMessage('version', versionPayload()));
  await until('verack', () => state.verack);
  return { socket: s, session, state };
}

async function handshakes(proxyPort: number, peer: V2Peer) {
  const proxied: number[] = [];
  const direct: number[] = [];
  for (let i = 0; i < HANDSHAKES; i++) {
    let t0 = performance.now();
    const c = await V1Client.viaSocks(proxyPort, { host: '127.0.0.1', port: peer.port });
    c.send('version', versionPayload());
    await until('verack', () => c.received.some((m) => m.command === 'verack'));
    proxied.push(performance.now() - t0);
    c.close();
    t0 = performance.now();
    const d = await directV2(peer.port);
    direct.push(performance.now() - t0);
    d.socket.destroy();
  }
  return { proxiedMedianMs: r2(median(proxied)), directV2MedianMs: r2(median(direct)), ratio: r2(median(proxied) / median(direct)) };
}

/** Writes `msg` n times, waiting for drain when the socket buffer is full. */
async function writeN(sock: import('node:net').Socket, msg: Uint8Array, n: number) {
  for (let i = 0; i < n; i++) {
    if (!sock.write(msg)) await new Promise((r) => sock.once('drain', r));
  }
}

async function throughput(child: Child, peer: V2Peer) {
  const proxyPort = child.port;
  const cpu = async () => (await child.ask<{ cpuMs: number }>('cpu', 'cpuMs')).cpuMs;
  const payload = new Uint8Array(BLOCK_PAYLOAD).fill(0x5a);
  const mb = (BLOCKS * BLOCK_PAYLOAD) / 1e6;
  const v1msg = encodeV1Message(MAGIC, { command: 'block', payload });

  // Up: v1 client -> proxy -> v2 peer.
  const c = await V1Client.viaSocks(proxyPort, { host: '127.0.0.1', port: peer.port }, false);
  c.send('version', versionPayload());
  await until('verack', () => c.received.some((m) => m.command === 'verack'));
  let base = peer.receivedBytes;
  let cpu0 = await cpu();
  let t0 = performance.now();
  await writeN(c.socket, v1msg, BLOCKS);
  await until('blocks at the peer', () => peer.receivedBytes - base >= BLOCKS * BLOCK_PAYLOAD, 120_000);
  const upMs = performance.now() - t0;
  const upCpuMs = (await cpu()) - cpu0;
  c.close();

  // Down: v2 peer -> proxy -> v1 client (counting bytes only).
  const c2 = await V1Client.viaSocks(proxyPort, { host: '127.0.0.1', port: peer.port }, true);
  c2.socket.write(encodeV1Message(MAGIC, { command: 'version', payload: versionPayload() }));
  await until('version + verack bytes', () => c2.rawBytes > 0);
  await new Promise((r) => setTimeout(r, 50));
  base = c2.rawBytes;
  const sessionSock = peer.sockets[peer.sockets.length - 1];
  const sealed = peer.sessions[peer.sessions.length - 1];
  cpu0 = await cpu();
  t0 = performance.now();
  for (let i = 0; i < BLOCKS; i++) {
    if (!sessionSock.write(sealed.encodeMessage('block', payload))) await new Promise((r) => sessionSock.once('drain', r));
  }
  await until('blocks at the client', () => c2.rawBytes - base >= BLOCKS * (BLOCK_PAYLOAD + 24), 120_000);
  const downMs = performance.now() - t0;
  const downCpuMs = (await cpu()) - cpu0;
  c2.close();

  // Reference: the same transfer up a direct v2 connection to the same peer.
  const d = await directV2(peer.port, true);
  base = peer.receivedBytes;
  t0 = performance.now();
  for (let i = 0; i < BLOCKS; i++) {
    if (!d.socket.write(d.session.encodeMessage('block', payload))) await new Promise((r) => d.socket.once('drain', r));
  }
  await until('blocks at the peer (direct)', () => peer.receivedBytes - base >= BLOCKS * BLOCK_PAYLOAD, 120_000);
  const directMs = performance.now() - t0;
  d.socket.destroy();

  return {
    blockBytes: BLOCK_PAYLOAD,
    blocks: BLOCKS,
    // Wall clock (client, proxy and peer share 2 cores with the other engineers' jobs) and per
    // CPU-second of the proxy process (what one core can carry; steadier under load).
    upMBps: r2(mb / (upMs / 1000)),
    downMBps: r2(mb / (downMs / 1000)),
    upMBperProxyCpuSec: r2(mb / (upCpuMs / 1000)),
    downMBperProxyCpuSec: r2(mb / (downCpuMs / 1000)),
    // Reference: one process encrypting and decrypting the same blocks on a direct v2 connection.
    directV2MBps: r2(mb / (directMs / 1000)),
    upVsDirect: r2(directMs / upMs),
    goalMBps: 50,
  };
}

async function memory(child: Child, peer: V2Peer) {
  type Mem = { mem: { rss: number; heapUsed: number; external: number; arrayBuffers: number }; open: number };
  const clients: V1Client[] = [];
  const open = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const c = await V1Client.viaSocks(child.port, { host: '127.0.0.1', port: peer.port });
      c.send('version', versionPayload());
      clients.push(c);
    }
    await until('all connections up', () => clients.every((c) => c.received.some((m) => m.command === 'verack')), 60_000);
    return child.ask<Mem>('mem', 'mem');
  };
  // The growth from WARM_CONNECTIONS to WARM_CONNECTIONS + IDLE_CONNECTIONS open, so one-off
  // costs (heap growth, the first connection's code) stay out of the per-connection figure.
  const m1 = await open(WARM_CONNECTIONS);
  const m2 = await open(IDLE_CONNECTIONS);
  for (const c of clients) c.close();
  const per = (k: 'rss' | 'heapUsed' | 'external') => Math.round((m2.mem[k] - m1.mem[k]) / IDLE_CONNECTIONS);
  return {
    connections: m2.open,
    heapBytesPerConnection: per('heapUsed'),
    externalBytesPerConnection: per('external'),
    // RSS moves in whole pages and with the collector; the heap figures are the steadier.
    rssBytesPerConnection: per('rss'),
  };
}

/** Epoch milliseconds of UpdateTip lines (bitcoind -logtimemicros=1), by block hash. */
function tipTimes(node: BitcoindProcess): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of node.grepLog(/UpdateTip: new best=/)) {
    const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{6})Z UpdateTip: new best=([0-9a-f]{64})/.exec(line);
    if (m) out.set(m[3], Date.parse(m[1] + 'Z') + Number(m[2]) / 1000);
  }
  return out;
}

/** Epoch milliseconds with sub-millisecond resolution, on the clock bitcoind logs with. */
const epochMs = () => performance.timeOrigin + performance.now();

/**
 * A raw transaction spending output 0 (50 BTC to P2WSH(OP_TRUE), as BitcoindProcess.mine pays)
 * of `txid` into 100 zero-value outputs of 9,000 script bytes: ~900 kB the receiving node has
 * never seen, so a compact block cannot be rebuilt from its mempool and the bytes must cross
 * the connection (getblocktxn/blocktxn). Script bytes are OP_1..OP_16 (no sigops). Consensus-
 * valid, not standard: it goes straight into a block with generateblock, never a mempool.
 */
function bigTx(txid: string, seed: number): string {
  const script = Buffer.alloc(9000);
  let x = seed >>> 0 || 1;
  script[0] = 0x6a;
  for (let i = 1; i < script.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    script[i] = 0x51 + ((x >>> 0) % 16);
  }
  const out = Buffer.concat([Buffer.alloc(8), Buffer.from([0xfd, 9000 & 0xff, 9000 >> 8]), script]);
  return Buffer.concat([
    Buffer.from('02000000' + '0001' + '01', 'hex'),
    Buffer.from(txid, 'hex').reverse(),
    Buffer.from('00000000' + '00' + 'ffffffff' + '64', 'hex'), // 100 outputs
    ...Array.from({ length: 100 }, () => out),
    Buffer.from('01' + '01' + '51' + '00000000', 'hex'), // witness: the script OP_TRUE; locktime
  ]).toString('hex');
}

interface RelayCtx {
  a: BitcoindProcess;
  b: BitcoindProcess;
  /** Coinbase txids of B's first blocks, mature, spent one per full block. */
  coinbases: string[];
  address: string;
}

/** Mines `n` blocks on B (after `warm` unmeasured ones); ms from the mining RPC to A's tip. */
interface Relay {
  /** From the mining RPC on B to UpdateTip on A. */
  fromRpc: number;
  /** From UpdateTip on B to UpdateTip on A (B may announce before its own UpdateTip line). */
  fromSenderTip: number;
}

async function relayRun(ctx: RelayCtx, kind: 'empty' | 'full', warm: number, n: number): Promise<Relay[]> {
  const { a, b } = ctx;
  const started = new Map<string, number>();
  for (let i = 0; i < warm + n; i++) {
    const h = (await b.rpc<number>('getblockcount')) + 1;
    const t0 = epochMs();
    const hash =
      kind === 'empty'
        ? (await b.mine(1))[0]
        : (await b.rpc<{ hash: string }>('generateblock', ctx.address, [bigTx(ctx.coinbases.shift()!, h)])).hash;
    await a.rpc('waitforblockheight', h, 20_000);
    if ((await a.rpc<string>('getbestblockhash')) !== hash) throw new Error(`A did not get block ${h}`);
    if (i >= warm) started.set(hash, t0);
  }
  const [ta, tb] = [tipTimes(a), tipTimes(b)];
  return [...started].map(([hash, t0]) => ({ fromRpc: ta.get(hash)! - t0, fromSenderTip: ta.get(hash)! - tb.get(hash)! }));
}

function relayFigures(direct: Relay[], proxied: Relay[]) {
  const m = (xs: Relay[], k: keyof Relay) => median(xs.map((x) => x[k]));
  return {
    blocks: direct.length,
    directV2MedianMs: r2(m(direct, 'fromRpc')),
    proxiedMedianMs: r2(m(proxied, 'fromRpc')),
    ratio: r2(m(proxied, 'fromRpc') / m(direct, 'fromRpc')),
    fromSenderTip: {
      directV2MedianMs: r2(m(direct, 'fromSenderTip')),
      proxiedMedianMs: r2(m(proxied, 'fromSenderTip')),
      ratio: r2(m(proxied, 'fromSenderTip') / m(direct, 'fromSenderTip')),
    },
  };
}

async function coreRelay() {
  const args = ['-v2transport=1', '-logtimemicros=1'];
  const a = new BitcoindProcess({ name: 'bench-proxy-A', args });
  const b = new BitcoindProcess({ name: 'bench-proxy-B', args });
  let child: Child | undefined;
  try {
    await Promise.all([a.start(), b.start()]);
    child = await startProxyChild(`127.0.0.1:${b.p2pPort}`);
    const peerCount = async (n: BitcoindProcess) => (await n.rpc<any[]>('getpeerinfo')).filter((p) => p.version > 0).length;
    // One coinbase per full block (both kinds of connection, warm-ups included); the first
    // `needed` blocks' coinbases are spendable once the chain is 100 blocks higher.
    const needed = 2 * FULL_BLOCKS + 4;
    const first = await b.mine(100 + needed);
    const coinbases: string[] = [];
    let address = '';
    for (const hash of first.slice(0, needed)) {
      const blk = await b.rpc<any>('getblock', hash, 2);
      coinbases.push(blk.tx[0].txid);
      address = blk.tx[0].vout[0].scriptPubKey.address;
    }
    const ctx: RelayCtx = { a, b, coinbases, address };
    const synced = async () => (await a.rpc<number>('getblockcount')) === (await b.rpc<number>('getblockcount'));

    const directEmpty: Relay[] = [];
    const directFull: Relay[] = [];
    const proxiedEmpty: Relay[] = [];
    const proxiedFull: Relay[] = [];
    // Two rounds of each, alternating, so drift in the machine's load hits both alike.
    for (let round = 0; round < 2; round++) {
      await a.rpc('addnode', `127.0.0.1:${b.p2pPort}`, 'onetry', true);
      const direct = await a.waitFor('direct v2 peer', async () =>
        (await a.rpc<any[]>('getpeerinfo')).find((p) => p.transport_protocol_type === 'v2' && p.version > 0),
      );
      await a.waitFor('A synced', synced);
      directEmpty.push(...(await relayRun(ctx, 'empty', 3, RELAY_BLOCKS / 2)));
      directFull.push(...(await relayRun(ctx, 'full', 1, FULL_BLOCKS / 2)));
      await a.rpc('disconnectnode', direct.addr);
      await a.waitFor('direct peer gone', async () => (await peerCount(a)) === 0 && (await peerCount(b)) === 0);

      await a.rpc('addnode', `127.0.0.1:${child.port}`, 'onetry', false);
      const viaProxy = await a.waitFor('peer through the proxy', async () =>
        (await a.rpc<any[]>('getpeerinfo')).find((p) => p.version > 0),
      );
      await b.waitFor('v2 peer through the proxy', async () =>
        (await b.rpc<any[]>('getpeerinfo')).find((p) => p.transport_protocol_type === 'v2' && p.version > 0),
      );
      await a.waitFor('A synced', synced);
      proxiedEmpty.push(...(await relayRun(ctx, 'empty', 3, RELAY_BLOCKS / 2)));
      proxiedFull.push(...(await relayRun(ctx, 'full', 1, FULL_BLOCKS / 2)));
      await a.rpc('disconnectnode', viaProxy.addr);
      await a.waitFor('proxied peer gone', async () => (await peerCount(a)) === 0 && (await peerCount(b)) === 0);
    }
    return {
      measured: 'ms from the mining RPC on B (and from UpdateTip on B) to UpdateTip on A (-logtimemicros), median',
      // ~900 kB of transactions A has never seen: the block's bytes cross the connection.
      fullBlocks: {
        ...relayFigures(directFull, proxiedFull),
        blockBytes: (await b.rpc<any>('getblock', await b.rpc<string>('getbestblockhash'), 1)).size,
      },
      // Empty regtest blocks: announcement latency only (sub-millisecond hops dominate).
      emptyBlocks: relayFigures(directEmpty, proxiedEmpty),
      goalRatio: 1.2,
    };
  } finally {
    await child?.stop();
    await Promise.all([a.stop(), b.stop()]);
  }
}

export async function bench(): Promise<Record<string, unknown>> {
  const peer = new V2Peer({ record: false });
  await peer.listen();
  // The handshake bench reads the peer's version/verack, so that peer records.
  const hsPeer = new V2Peer();
  await hsPeer.listen();
  const child = await startProxyChild();
  try {
    const handshake = await handshakes(child.port, hsPeer);
    const tp = await throughput(child, peer);
    const mem = await memory(child, hsPeer);
    const coreBlockRelay = await coreRelay();
    return { loadAverage1m: +loadavg()[0].toFixed(2), aead: 'node', handshake, throughput: tp, memoryPerConnection: mem, coreBlockRelay };
  } finally {
    await child.stop();
    await peer.close();
    await hsPeer.close();
  }
}
