// The `peers` link under proxy= (SOCKS5; Debian's microsocks as the Tor stand-in) against real
// regtest Bitcoin Core nodes on loopback. As Core with -proxy: no DNS seed is looked up here;
// the seed's name ("localhost", which only the proxy resolves) gets a one-shot connection
// through the proxy asking for addresses (Core's addrfetch; this node knows none, so the link
// goes on to the fixed seeds, injected here as loopback nodes); every peer is dialled through
// the proxy; onlynet=onion uses only .onion peers. While the links run, every TCP connect and
// every name lookup of this process is recorded: all sockets go to the proxy, no lookup is made.
// The onlynet=onion case dials one made-up onion name through microsocks, which cannot resolve
// it (a real Tor would): the point is that the name reached the proxy unresolved.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import dns from 'node:dns';
import { Resolver } from 'node:dns/promises';
import net from 'node:net';
import { sha256 } from '@noble/hashes/sha2.js';
import { NETWORKS } from '../../../src/chain/networks.js';
import { headerHash } from '../../../src/chain/header.js';
import { PeersLink, create } from '../../../src/links/peers/peers.js';
import { torV3Name } from '../../../src/node/addrv2.js';
import { BitcoindProcess, freePort } from '../../harness/bitcoind.js';
import { headersFromNode } from '../../harness/gateway.js';
import { compareRuns, recordingContext } from '../../servers/context.js';
import { startDnsSeed } from '../../servers/dns-seed.js';
import { lifecycle } from '../../servers/lifecycle.js';
import { loopback, peersLink } from './helpers.js';
import { startMicrosocks, type Microsocks } from '../../servers/microsocks.js';

const { track, serve } = lifecycle();
let socks: Microsocks;
let a: BitcoindProcess;
let b: BitcoindProcess;
let shared: number;

const connects: string[] = [];
const lookups: string[] = [];
const realConnect = net.Socket.prototype.connect;
const realLookup = dns.lookup;
const realResolve4 = Resolver.prototype.resolve4;
const realResolve6 = Resolver.prototype.resolve6;

function startTrap(): void {
  connects.length = 0;
  lookups.length = 0;
  net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
    // net.connect() hands Socket#connect its normalized arguments as one array.
    const x = Array.isArray(args[0]) ? (args[0] as unknown[])[0] : args[0];
    const o = (typeof x === 'object' && x !== null ? x : { port: x, host: args[1] }) as { host?: string; port?: unknown; path?: string };
    if (!o.path) connects.push(`${o.host ?? 'localhost'}:${String(o.port)}`);
    return (realConnect as (...y: unknown[]) => net.Socket).apply(this, args);
  } as typeof realConnect;
  (dns as { lookup: unknown }).lookup = (host: string, ...rest: unknown[]) => {
    lookups.push(`lookup ${host}`);
    return (realLookup as (...y: unknown[]) => unknown)(host, ...rest);
  };
  Resolver.prototype.resolve4 = function (this: Resolver, host: string) {
    lookups.push(`resolve4 ${host}`);
    return realResolve4.call(this, host, { ttl: false });
  } as typeof realResolve4;
  Resolver.prototype.resolve6 = function (this: Resolver, host: string) {
    lookups.push(`resolve6 ${host}`);
    return realResolve6.call(this, host, { ttl: false });
  } as typeof realResolve6;
}
function stopTrap(): void {
  net.Socket.prototype.connect = realConnect;
  (dns as { lookup: unknown }).lookup = realLookup;
  Resolver.prototype.resolve4 = realResolve4;
  Resolver.prototype.resolve6 = realResolve6;
}

beforeAll(async () => {
  shared = await freePort();
  socks = await startMicrosocks();
  // a: 127.0.0.1:<its own port> (the "seed") and 127.0.0.4:<shared>; b: 127.1.0.4:<shared>. Same chain.
  [a, b] = await Promise.all([
    new BitcoindProcess({ name: 'peers-proxy-a', args: [`-bind=127.0.0.4:${shared}`] }).start(),
    new BitcoindProcess({ name: 'peers-proxy-b', args: [`-bind=127.1.0.4:${shared}`] }).start(),
  ]);
  await a.mine(15);
  await b.copyBlocksFrom(a, 1);
}, 60_000);

afterAll(async () => {
  stopTrap();
  await socks?.close();
  await Promise.all([a?.stop(), b?.stop()]);
});

describe('peers link through a SOCKS5 proxy', () => {
  it('the trap sees a direct connect and a lookup (so the checks below can fail)', async () => {
    startTrap();
    try {
      await new Promise<void>((r) =>
        net.connect(a.p2pPort, '127.0.0.1', function (this: net.Socket) {
          this.destroy();
          r();
        }),
      );
      await new Resolver().resolve4('localhost').catch(() => undefined);
      expect(connects).toEqual([`127.0.0.1:${a.p2pPort}`]);
      expect(lookups).toEqual(['resolve4 localhost']);
    } finally {
      stopTrap();
    }
  });

  it('asks the seed through the proxy by name, then dials the fixed seeds through it; no lookup, every socket to the proxy', async () => {
    const { link, rec } = peersLink(track, {
      name: 'tor',
      connections: 2,
      seeds: ['localhost'],
      port: a.p2pPort,
      proxy: loopback(socks.port),
      addrFetchMs: 1000,
      fixedSeeds: [`127.0.0.4:${shared}`, `127.1.0.4:${shared}`],
    });
    startTrap();
    try {
      await link.start();
      await link.requestHeaders([headerHash(NETWORKS.regtest.genesisHeader)]);
    } finally {
      stopTrap();
    }
    expect(lookups).toEqual([]);
    expect(connects.length).toBeGreaterThanOrEqual(3);
    expect(new Set(connects)).toEqual(new Set([`127.0.0.1:${socks.port}`]));
    // The seed was asked through the proxy by its name; it knew no address, so the fixed seeds.
    expect(socks.log()).toContain('localhost');
    expect(rec.counters.get('seed.failures')).toBe(1);
    expect(rec.counters.get('fixed-seeds.added')).toBe(2);
    expect(link.peers.map((p) => p.host).sort()).toEqual(['127.0.0.4', '127.1.0.4']);
    const want = await headersFromNode(a, 1);
    expect(rec.batches.length).toBeGreaterThanOrEqual(1);
    for (const run of rec.batches) expect(compareRuns(run, want)).toBe('same');
    // Core sees the peers arrive from the proxy (127.0.0.1), over BIP324.
    const inbound = (await b.rpc<Array<{ inbound: boolean; addr: string; transport_protocol_type: string }>>('getpeerinfo')).filter(
      (p) => p.inbound,
    );
    expect(inbound.map((p) => p.transport_protocol_type)).toEqual(['v2']);
    expect(inbound[0].addr).toMatch(/^127\.0\.0\.1:/);
    await link.stop();
  }, 30_000);

  it('onlynet=onion: no seed asked, IP fixed seeds left out, the onion name handed to the proxy unresolved', async () => {
    const onion = torV3Name(sha256(new TextEncoder().encode('altnet proxy test onion')));
    const seed = await serve(startDnsSeed({ 'seed.altnet.test': ['127.0.0.4'] }));
    const { link, rec } = peersLink(track, {
      name: 'onion',
      connections: 2,
      seeds: ['seed.altnet.test'],
      dnsServer: loopback(seed.port),
      port: shared,
      timeoutMs: 3000,
      proxy: loopback(socks.port),
      onlyOnion: true,
      fixedSeeds: [`127.0.0.4:${shared}`, `${onion}:${shared}`],
    });
    startTrap();
    try {
      await link.start();
    } finally {
      stopTrap();
    }
    expect(lookups).toEqual([]);
    expect(seed.questions).toEqual([]);
    expect(new Set(connects)).toEqual(new Set([`127.0.0.1:${socks.port}`]));
    expect(rec.counters.get('fixed-seeds.added')).toBe(1);
    expect(link.book.all().map((e) => e.host)).toEqual([onion]);
    // The proxy was asked for the name and refused it (microsocks cannot reach onion services).
    expect(rec.log.lines.some((l) => l.includes(onion) && /SOCKS5 proxy 127\.0\.0\.1:\d+/.test(l))).toBe(true);
    expect(link.peers).toEqual([]);
    expect(rec.states.at(-1)).toMatchObject({ state: 'down' });
    await link.stop();
  }, 30_000);

  it('create(): proxy= and onlynet= read from the options; onlynet=onion without a proxy is refused', () => {
    const rec = recordingContext();
    expect(() => create({ name: 'p', onlynet: 'onion' }, rec.ctx)).toThrow(/link\.p\.onlynet=onion: .*needs proxy=/);
    const l = create({ name: 'p', proxy: '127.0.0.1:9050', onlynet: 'onion' }, rec.ctx) as PeersLink;
    expect(l).toBeInstanceOf(PeersLink);
  });
});
