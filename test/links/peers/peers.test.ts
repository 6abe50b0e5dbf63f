// The `peers` link against a local DNS seed (loopback UDP) that names real regtest bitcoinds on
// several 127.x addresses (all of 127/8 is loopback on Linux): distinct netgroups chosen, the
// honest nodes serve headers, the liar is banned in the address book on disk and replaced.
// Nothing here reaches a public address; the built-in seed lists are checked for form only.
//
// Who "lies", honestly: a real Bitcoin Core cannot send headers without valid proof of work, so
// a real node cannot be caught lying by the link; what a real attacker's node can do is serve
// its own chain. So the seed names three kinds of peer:
//   - honest real nodes a and b (one chain, 20 blocks);
//   - a real node f on its own lower-work fork (8 blocks mined to another address from genesis):
//     valid headers, so NOT a lie and NOT banned: the link delivers them, and the gateway's
//     header chain (most work wins; fed here with everything delivered) keeps the honest tip;
//     the disagreement itself is the watchdog's to count;
//   - a fake peer (test/servers/p2p-peer.ts) serving headers that do not connect to what it was
//     asked for, a lie no real node can produce by accident: caught, banned, replaced.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { NETWORKS } from '../../../src/chain/networks.js';
import { effectiveOptions } from '../../../src/cli/link-check.js';
import { decodeAddr } from '../../../src/node/messages.js';
import { headerHash } from '../../../src/chain/header.js';
import { AddressBook, isPublicAddress, MAX_BOOK_ENTRIES, netgroup } from '../../../src/links/peers/book.js';
import { DNS_SEEDS } from '../../../src/links/peers/options.js';
import { FIXED_SEEDS } from '../../../src/links/peers/fixed-seeds.js';
import { encodeAddrV2, torV3Name } from '../../../src/node/addrv2.js';
import { MAX_NEW_PER_PEER } from '../../../src/links/peers/peers.js';
import { parseHostPort } from '../../../src/util/net.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { create } from '../../../src/links/peers/peers.js';
import { validateLinkOptions } from '../../../src/links/registry.js';
import { ATTACKER_ADDRESS, BitcoindProcess, freePort } from '../../harness/bitcoind.js';
import { hashToHex } from '../../../src/util/bytes.js';
import { headersFromNode } from '../../harness/gateway.js';
import { newChain } from '../../chain/helpers.js';
import { compareRuns, recordingContext } from '../../servers/context.js';
import { startDnsSeed } from '../../servers/dns-seed.js';
import { lifecycle } from '../../servers/lifecycle.js';
import { configuredPeersLink, loopback, peersLink } from './helpers.js';
import { startFakePeer } from '../../servers/p2p-peer.js';

const { track, serve } = lifecycle();
const MADE_UP_ONIONS = Array.from({ length: 24 }, (_, i) => torV3Name(sha256(new TextEncoder().encode(`altnet test onion ${i}`))));

describe('peers: options, netgroups, address book', () => {
  it('names the offending key for each bad value', () => {
    expect(validateLinkOptions('r', { type: 'peers' })).toEqual([]);
    const bad = validateLinkOptions('r', { type: 'peers', connections: '0', seeds: 'a b', dnsserver: 'nope', port: '70000', v2: '2' });
    expect(bad.map((p) => p.key).sort()).toEqual(['connections', 'dnsserver', 'port', 'seeds', 'v2']);
    const rec = recordingContext();
    expect(() => create({ name: 'r', dnsserver: 'resolver.example:53' }, rec.ctx)).toThrow(/link\.r\.dnsserver=.*IP address/);
  });

  it('altnet run puts the address book in the datadir, one per network and link, unless book= says where', () => {
    const config = { datadir: '/var/lib/altnet', network: 'signet' as const, callsign: undefined, proxy: undefined };
    expect(effectiveOptions({ type: 'peers' }, config, 'gateway', 'rnd').book).toBe('/var/lib/altnet/peers-signet-rnd.json');
    expect(effectiveOptions({ type: 'peers', book: '/x.json' }, config, 'gateway', 'rnd').book).toBe('/x.json');
    expect(effectiveOptions({ type: 'p2p', peer: '127.0.0.1:1' }, config, 'gateway', 'p').book).toBeUndefined();
  });

  it("lists each network's DNS seeds as Bitcoin Core does (form only; never contacted)", () => {
    expect(DNS_SEEDS.main).toHaveLength(8);
    expect(DNS_SEEDS.main).toContain('seed.bitcoin.sipa.be');
    for (const name of Object.keys(NETWORKS)) expect(DNS_SEEDS[name], name).toBeDefined();
    for (const s of Object.values(DNS_SEEDS).flat()) expect(s).toMatch(/^([a-z0-9-]+\.)+[a-z]+$/);
    expect(DNS_SEEDS.regtest).toEqual([]);
  });

  it("has Bitcoin Core's fixed seeds per public network: IPv4, IPv6 and Tor v3 on the network's port, public ranges only (form only; never contacted)", () => {
    expect(Object.keys(FIXED_SEEDS).sort()).toEqual(Object.keys(NETWORKS).sort());
    expect(FIXED_SEEDS.regtest).toEqual([]);
    for (const n of ['main', 'testnet4', 'signet'] as const) {
      const hps = FIXED_SEEDS[n].map((t) => parseHostPort(t));
      expect(new Set(FIXED_SEEDS[n]).size, n).toBe(FIXED_SEEDS[n].length);
      expect(
        hps.every((h) => h.port === NETWORKS[n].defaultPort),
        n,
      ).toBe(true);
      const v4 = hps.filter((h) => /^\d+\.\d+\.\d+\.\d+$/.test(h.host));
      const v6 = hps.filter((h) => h.host.includes(':'));
      const onion = hps.filter((h) => /^[a-z2-7]{56}\.onion$/.test(h.host));
      expect(v4.length, n).toBeGreaterThanOrEqual(16);
      expect(v6.length, n).toBeGreaterThanOrEqual(6);
      expect(onion.length, n).toBeGreaterThanOrEqual(6);
      expect(v4.length + v6.length + onion.length, n).toBe(hps.length);
      // Spread: no two IPv4 seeds in one /16; nothing private, loopback or documentation.
      expect(new Set(v4.map((h) => netgroup(h.host))).size, n).toBe(v4.length);
      for (const h of v4)
        expect(h.host, n).not.toMatch(/^(0|10|127|169\.254|172\.(1[6-9]|2\d|3[01])|192\.168|192\.0\.2|198\.51\.100|203\.0\.113)\./);
      for (const h of v6) expect(h.host, n).not.toMatch(/^(::|fc|fd|fe8|2001:db8:)/);
    }
  });

  it('decodes addr strictly: a count over 1000 or a truncated entry is refused before allocation', () => {
    expect(() => decodeAddr(Uint8Array.of(0xfd, 0xe9, 0x03))).toThrow(/exceeds 1000/);
    expect(() => decodeAddr(Uint8Array.of(1, 0, 0, 0))).toThrow(/truncated/);
    expect(decodeAddr(Uint8Array.of(0))).toEqual([]);
  });

  it('tells public addresses from LAN, loopback, documentation and reserved ones (as Core IsRoutable)', () => {
    for (const h of ['8.8.8.8', '1.2.3.4', '2a01:4f8::1', '::ffff:8.8.4.4', torV3Name(new Uint8Array(32))])
      expect(isPublicAddress(h), h).toBe(true);
    for (const h of [
      '10.1.2.3',
      '127.0.0.5',
      '172.16.0.1',
      '172.31.255.1',
      '192.168.1.1',
      '169.254.1.1',
      '100.64.0.1',
      '198.18.0.1',
      '192.0.2.1',
      '203.0.113.9',
      '0.1.2.3',
      '224.0.0.1',
      '::1',
      '::',
      'fe80::1',
      'fd00::1',
      'fc12::1',
      '2001:db8::1',
      '2001:10::1',
      'ff02::1',
      '::ffff:10.0.0.1',
      'localhost',
      'x.onion',
    ])
      expect(isPublicAddress(h), h).toBe(false);
  });

  it('puts IPv4 in /16 and IPv6 in /32 netgroups', () => {
    expect(netgroup('127.0.0.1')).toBe(netgroup('127.0.255.9'));
    expect(netgroup('127.0.0.1')).not.toBe(netgroup('127.1.0.1'));
    expect(netgroup('2001:db8:1::1')).toBe(netgroup('2001:0db8:ffff::2'));
    expect(netgroup('2001:db8::1')).not.toBe(netgroup('2001:db9::1'));
    expect(netgroup('::ffff:10.1.2.3')).toBe(netgroup('10.1.9.9'));
    // Onion peers apart from IP ones, in 16 groups by the first 4 bits of the key (Core's GetGroup).
    expect(netgroup(torV3Name(new Uint8Array(32)))).toBe('onion:0');
    expect(netgroup(torV3Name(new Uint8Array(32).fill(0xff)))).toBe('onion:f');
  });

  it('keeps at most MAX_BOOK_ENTRIES, never forgets a ban, survives a damaged file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'altnet-book-'));
    try {
      const path = join(dir, 'peers.json');
      const b = new AddressBook(path);
      b.add('10.9.9.9', 8333);
      b.ban('10.9.9.9', 8333, 'lie');
      for (let i = 0; i < MAX_BOOK_ENTRIES + 50; i++) b.add(`10.${i >> 8}.${i & 255}.1`, 8333);
      expect(b.size).toBe(MAX_BOOK_ENTRIES);
      b.save();
      const again = new AddressBook(path);
      expect(again.size).toBe(MAX_BOOK_ENTRIES);
      expect(again.isBanned('10.9.9.9', 8333)).toBe(true);
      expect(again.pick(5, new Set(), new Set()).every((e) => !e.banned)).toBe(true);
      writeFileSync(path, '{ half a fi');
      const damaged: string[] = [];
      expect(new AddressBook(path, (w) => damaged.push(w)).size).toBe(0);
      expect(damaged).toHaveLength(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('peers link: what a peer gossips on a public network', () => {
  it('drops a malformed addrv2 (counted, said, link stays up); ignores LAN/loopback addresses; caps what one peer adds', async () => {
    const onions = Array.from({ length: MAX_NEW_PER_PEER + 100 }, (_, i) => ({
      time: 1,
      services: 9n,
      net: 4,
      addr: sha256(new TextEncoder().encode(`gossip ${i}`)),
      port: 8333,
    }));
    const lan = [
      { time: 1, services: 9n, net: 1, addr: Uint8Array.of(10, 1, 2, 3), port: 8333 },
      { time: 1, services: 9n, net: 1, addr: Uint8Array.of(127, 0, 0, 9), port: 8333 },
      { time: 1, services: 9n, net: 2, addr: Uint8Array.of(0xfe, 0x80, ...new Array(13).fill(0), 1), port: 8333 },
      { time: 1, services: 9n, net: 5, addr: new Uint8Array(32), port: 0 },
    ];
    const peer = await serve(
      startFakePeer({ host: '127.7.0.1', network: 'main', addrv2: [Uint8Array.of(0xfd, 0xe9, 0x03), encodeAddrV2([...lan, ...onions])] }),
    );
    const { link, rec } = peersLink(
      track,
      { name: 'g', connections: 1, seeds: [], port: 8333, v2: false, fixedSeeds: [`127.7.0.1:${peer.port}`] },
      NETWORKS.main,
    );
    await link.start();
    await vi.waitFor(() => expect(rec.counters.get('addr.capped')).toBe(100), { timeout: 10_000, interval: 50 });
    expect(peer.commands.slice(0, 4)).toEqual(['version', 'sendaddrv2', 'verack', 'sendheaders']);
    expect(rec.counters.get('addr.malformed')).toBe(1);
    expect(rec.log.lines.some((l) => l.includes('malformed address message') && l.includes('count 1001 exceeds 1000'))).toBe(true);
    expect(rec.counters.get('addr.unroutable')).toBe(3);
    expect(rec.counters.get('addrv2.skipped')).toBe(1);
    expect(rec.counters.get('addr.new')).toBe(MAX_NEW_PER_PEER);
    expect(link.book.size).toBe(1 + MAX_NEW_PER_PEER);
    expect(link.book.all().some((e) => e.host === '10.1.2.3')).toBe(false);
    expect(link.peers.map((p) => p.host)).toEqual(['127.7.0.1']);
  }, 30_000);
});

describe('peers link against a local DNS seed and real regtest nodes', () => {
  let a: BitcoindProcess;
  let b: BitcoindProcess;
  let f: BitcoindProcess;
  let port: number;
  beforeAll(async () => {
    port = await freePort();
    // Node a answers on 127.0.0.2 and 127.0.0.3 (one /16), node b on 127.1.0.1 and 127.3.0.1: same chain.
    // Node f on 127.4.0.1: its own fork from genesis, less work.
    [a, b, f] = await Promise.all([
      new BitcoindProcess({ name: 'peers-a', args: [`-bind=127.0.0.2:${port}`, `-bind=127.0.0.3:${port}`] }).start(),
      new BitcoindProcess({ name: 'peers-b', args: [`-bind=127.1.0.1:${port}`, `-bind=127.3.0.1:${port}`] }).start(),
      new BitcoindProcess({ name: 'peers-f', args: [`-bind=127.4.0.1:${port}`] }).start(),
    ]);
    await a.mine(20);
    await f.mine(8, ATTACKER_ADDRESS);
    await b.copyBlocksFrom(a, 1);
    // Node a knows made-up onion peers (keys hashed from a label: no such services exist). Core
    // answers getaddr with 23% of what it knows, in addrv2 (BIP155) since the link sends sendaddrv2.
    // addrman refuses some (a bucket slot taken: failed-adding-to-new, at random); at least 12 of
    // the 24 stick, so getaddr brings at least 2.
    let added = 0;
    for (const o of MADE_UP_ONIONS) if ((await a.rpc<{ success: boolean }>('addpeeraddress', o, 18444)).success) added++;
    expect(added).toBeGreaterThanOrEqual(12);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop(), f?.stop()]);
  });

  it('connects peers from distinct netgroups, takes headers from the honest ones and the fork (not a lie), bans and replaces the liar', async () => {
    // The liar (127.2.0.1) speaks regtest's magic but serves headers that do not follow our locator.
    // It also answers getaddr with 127.5.0.1 on a port where no one listens: learned, tried, skipped.
    const deadPort = await freePort();
    await serve(startFakePeer({ host: '127.2.0.1', port, network: 'regtest', addrs: [{ host: '127.5.0.1', port: deadPort }] }));
    const seed = await serve(
      startDnsSeed({
        'seed.altnet.test': ['127.0.0.2', '127.0.0.3', '127.1.0.1', '127.2.0.1', '127.3.0.1', '127.4.0.1'],
      }),
    );
    const dir = mkdtempSync(join(tmpdir(), 'altnet-peers-'));
    const bookPath = join(dir, 'peers.json');
    // A book from an earlier run: four peers that worked (the liar and the fork among them) come first.
    const earlier = new AddressBook(bookPath);
    for (const host of ['127.0.0.2', '127.1.0.1', '127.2.0.1', '127.4.0.1']) {
      earlier.add(host, port);
      earlier.good(host, port);
    }
    earlier.save();
    const { link, rec } = configuredPeersLink(track, {
      name: 'rnd',
      type: 'peers',
      seeds: 'seed.altnet.test',
      dnsserver: `127.0.0.1:${seed.port}`,
      port: String(port),
      book: bookPath,
      connections: '4',
      timeout: '5000',
    });
    try {
      await link.start();
      expect(seed.questions.map((q) => q.type).sort()).toEqual([1, 28]);
      // The four that worked before, from four netgroups (127.0/16, 127.1/16, 127.2/16, 127.4/16).
      const groups = link.peers.map((p) => p.group);
      expect(link.peers.map((p) => p.host).sort()).toEqual(['127.0.0.2', '127.1.0.1', '127.2.0.1', '127.4.0.1']);
      expect(new Set(groups).size).toBe(4);
      expect(link.peers.filter((p) => p.host.startsWith('127.0.0.')).length).toBeLessThanOrEqual(1);

      await link.requestHeaders([headerHash(NETWORKS.regtest.genesisHeader)]);
      const want = await headersFromNode(a, 1);
      const fork = await headersFromNode(f, 1);
      // Every run delivered is the honest chain or the fork's (valid work, so delivered, not a lie).
      const kinds = rec.batches.map((run) =>
        compareRuns(run, want) === 'same' ? 'honest' : compareRuns(run, fork) === 'same' ? 'fork' : 'other',
      );
      expect(kinds).toContain('honest');
      expect(kinds).toContain('fork');
      expect(kinds).not.toContain('other');
      // The gateway's header chain, fed everything the link delivered (fork last), keeps the honest tip: most work wins.
      const { chain } = newChain(NETWORKS.regtest, { checkpoint: null });
      for (const run of [...rec.batches].sort((x, y) => y.length - x.length)) expect(chain.addHeaders(run).rejected).toBeUndefined();
      expect(hashToHex(chain.tip().hash)).toBe(await a.rpc<string>('getbestblockhash'));
      expect(chain.tip().height).toBe(20);

      // The liar is banned and replaced from the one netgroup left (127.3/16), not by 127.0.0.3;
      // the fork node stays: it disagrees, it did not lie.
      expect(link.book.isBanned('127.2.0.1', port)).toBe(true);
      expect(link.book.isBanned('127.4.0.1', port)).toBe(false);
      expect(rec.counters.get('banned')).toBe(1);
      expect(rec.counters.get('lies')).toBe(1);
      expect(link.peers.map((p) => p.host).sort()).toEqual(['127.0.0.2', '127.1.0.1', '127.3.0.1', '127.4.0.1']);
      expect(new Set(link.peers.map((p) => p.group)).size).toBe(4);
      expect(rec.states.at(-1)?.state).toBe('up');
      // BIP324 first: Bitcoin Core 30.2 reports the link's connections as v2.
      const inbound = (await a.rpc<any[]>('getpeerinfo')).filter((p) => p.inbound);
      expect(inbound.map((p) => p.transport_protocol_type)).toEqual(['v2']);
      // Addresses a peer sent joined the book: the liar's `addr` (IPv4), and real Core's `addrv2`
      // with Tor v3 entries decoded to their .onion names (kept, but never dialled without a proxy).
      expect(link.book.all().map((e) => `${e.host}:${e.port}`)).toContain(`127.5.0.1:${deadPort}`);
      await vi.waitFor(() => expect(link.book.all().filter((e) => e.host.endsWith('.onion')).length).toBeGreaterThanOrEqual(2), {
        timeout: 10_000,
        interval: 50,
      });
      const onions = link.book.all().filter((e) => e.host.endsWith('.onion'));
      for (const o of onions) expect(MADE_UP_ONIONS).toContain(o.host);
      expect(onions.every((o) => o.port === 18444 && !o.lastGood)).toBe(true);
      expect(rec.counters.get('addr.new')).toBe(1 + onions.length);
      expect(rec.counters.get('addr.malformed') ?? 0).toBe(0);
      await link.stop();
      const saved = JSON.parse(readFileSync(bookPath, 'utf8')) as { peers: Array<{ host: string; banned?: string }> };
      expect(
        saved.peers
          .filter((p) => !p.host.endsWith('.onion'))
          .map((p) => p.host)
          .sort(),
      ).toEqual(['127.0.0.2', '127.0.0.3', '127.1.0.1', '127.2.0.1', '127.3.0.1', '127.4.0.1', '127.5.0.1']);
      expect(saved.peers.find((p) => p.host === '127.2.0.1')?.banned).toMatch(/disconnected|bad-pow/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it("falls back to the fixed seeds (injected here: loopback nodes) when the DNS seed's only address answers nothing; onion seeds skipped without a proxy", async () => {
    const dead = await freePort();
    const seed = await serve(startDnsSeed({ 'seed.altnet.test': ['127.6.0.1'] }));
    const { link, rec } = peersLink(track, {
      name: 'fx',
      connections: 2,
      seeds: ['seed.altnet.test'],
      dnsServer: loopback(seed.port),
      port: dead,
      fixedSeeds: [`127.0.0.2:${port}`, `127.1.0.1:${port}`, `[::1]:${dead}`, `${MADE_UP_ONIONS[0]}:${port}`, 'not a seed'],
    });
    await link.start();
    expect(rec.counters.get('seed.addresses')).toBe(1);
    expect(rec.counters.get('fixed-seeds.added')).toBe(3);
    expect(rec.counters.get('fixed-seeds.malformed')).toBe(1);
    expect(link.book.all().map((e) => e.host)).not.toContain(MADE_UP_ONIONS[0]);
    expect(link.peers.map((p) => p.host).sort()).toEqual(['127.0.0.2', '127.1.0.1']);
    expect(rec.log.lines.some((l) => l.includes('using the built-in fixed seeds'))).toBe(true);
    await link.requestHeaders([headerHash(NETWORKS.regtest.genesisHeader)]);
    expect(rec.all().length).toBeGreaterThanOrEqual(20);
  }, 30_000);

  it('uses the fixed seeds at once when the DNS seed knows no such name (NXDOMAIN)', async () => {
    const seed = await serve(startDnsSeed({}));
    const { link, rec } = peersLink(track, {
      name: 'nx',
      connections: 1,
      seeds: ['nothing.altnet.test'],
      dnsServer: loopback(seed.port),
      port,
      fixedSeeds: [`127.1.0.1:${port}`],
    });
    await link.start();
    expect(seed.questions.map((q) => q.name)).toEqual(['nothing.altnet.test', 'nothing.altnet.test']);
    expect(rec.counters.get('seed.failures')).toBe(1);
    expect(
      rec.log.lines.some((l) => l.includes('using the built-in fixed seeds') && l.includes('the DNS seeds gave no usable address')),
    ).toBe(true);
    expect(link.peers.map((p) => p.host)).toEqual(['127.1.0.1']);
  }, 30_000);

  it('rotates: the longest-connected peer is swapped for another address, netgroups still distinct', async () => {
    const seed = await serve(startDnsSeed({ 'seed.altnet.test': ['127.0.0.2', '127.0.0.3', '127.1.0.1', '127.3.0.1'] }));
    const { link, rec } = configuredPeersLink(track, {
      name: 'rot',
      seeds: 'seed.altnet.test',
      dnsserver: `127.0.0.1:${seed.port}`,
      port: String(port),
      connections: '2',
      rotate: '1',
      timeout: '5000',
    });
    await link.start();
    const first = link.peers.map((p) => p.host);
    expect(first).toHaveLength(2);
    await vi.waitFor(() => expect(rec.counters.get('rotated')).toBeGreaterThanOrEqual(1), { timeout: 5_000, interval: 50 });
    await vi.waitFor(() => expect(link.peers).toHaveLength(2), { timeout: 5_000, interval: 50 });
    const now = link.peers.map((p) => p.host);
    expect(now.sort()).not.toEqual(first.sort());
    expect(new Set(link.peers.map((p) => p.group)).size).toBe(2);
    await link.requestHeaders([headerHash(NETWORKS.regtest.genesisHeader)]);
    expect(rec.all().length).toBeGreaterThanOrEqual(20);
  }, 20_000);
});
