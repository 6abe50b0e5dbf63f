// The fetch planner with scripted links and real (tiny, regtest-mined) blocks: source choice,
// verification and marking, deadlines and retries elsewhere, chain order, in-flight caps.
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { BlockFetcher, type BlockLink, type WantedBlock } from '../../src/gateway/blockfetch.js';
import { BlockStore } from '../../src/blocks/store.js';
import { NETWORKS } from '../../src/chain/networks.js';
import { headerHash, serializeHeader, bitsToTarget, hashToBigInt } from '../../src/chain/header.js';
import { Counters } from '../../src/util/counters.js';
import { memoryLogger } from '../../src/util/log.js';
import { toHex } from '../../src/util/bytes.js';
import type { LinkCapabilities } from '../../src/links/link.js';

const sha256d = (b: Uint8Array) => createHash('sha256').update(createHash('sha256').update(b).digest()).digest();

/** A coinbase-only regtest block on `prev` (80-byte header), salted so each is different. */
function makeBlock(prev: Uint8Array, salt: number): { header: Uint8Array; raw: Uint8Array } {
  const coinbase = Buffer.from(
    '01000000' +
      '01' +
      '00'.repeat(32) +
      'ffffffff' +
      '04' +
      Buffer.from(Uint32Array.of(salt).buffer).toString('hex') +
      'ffffffff' +
      '01' +
      '00f2052a01000000' +
      '0151' +
      '00000000',
    'hex',
  );
  const bits = 0x207fffff;
  const target = bitsToTarget(bits)!;
  for (let nonce = 0; ; nonce++) {
    const header = serializeHeader({
      version: 0x20000000,
      prevHash: headerHash(prev),
      merkleRoot: new Uint8Array(sha256d(coinbase)),
      time: 1_700_000_000 + salt,
      bits,
      nonce,
    });
    if (hashToBigInt(headerHash(header)) <= target)
      return { header, raw: new Uint8Array(Buffer.concat([header, Buffer.from([1]), coinbase])) };
  }
}

function chainOf(n: number): Array<WantedBlock & { raw: Uint8Array }> {
  const out: Array<WantedBlock & { raw: Uint8Array }> = [];
  let prev = NETWORKS.regtest.genesisHeader;
  for (let i = 1; i <= n; i++) {
    const b = makeBlock(prev, i);
    out.push({ height: i, hash: headerHash(b.header), header: b.header, raw: b.raw });
    prev = b.header;
  }
  return out;
}

const CAPS: LinkCapabilities = {
  direction: 'duplex',
  mtu: 4_000_000,
  bitrate: 1e6,
  dutyCycle: 1,
  carries: ['headers', 'tx', 'blocks'],
  needsCallsign: false,
};

function fakeLink(name: string, caps: LinkCapabilities = CAPS): BlockLink & { asked: string[] } {
  const asked: string[] = [];
  return { name, capabilities: caps, state: 'up', asked, requestBlock: (hash) => (asked.push(toHex(hash)), true) };
}

function setup(links: BlockLink[], opts: { timeoutMs?: number; perLinkInFlight?: number } = {}) {
  let now = 1_000_000;
  const counters = new Counters();
  const log = memoryLogger();
  const store = BlockStore.open({ maxBytes: 10_000_000, log, counters });
  const verified: Array<{ height: number; source: string }> = [];
  const f = new BlockFetcher({
    log,
    counters,
    links: () => links,
    store,
    now: () => now,
    timeoutMs: opts.timeoutMs ?? 10_000,
    perLinkInFlight: opts.perLinkInFlight,
    onVerified: (b, _raw, source) => verified.push({ height: b.height, source }),
  });
  return { f, counters, store, verified, advance: (ms: number) => (now += ms) };
}

describe('BlockFetcher', () => {
  it('asks a source other than the one that brought the headers, in chain order', () => {
    const blocks = chainOf(3);
    const headerSource = fakeLink('radio-peer');
    const other = fakeLink('esplora');
    const { f } = setup([headerSource, other]);
    f.setWanted(blocks, 'radio-peer');
    expect(other.asked).toEqual(blocks.map((b) => toHex(b.hash)));
    expect(headerSource.asked).toEqual([]);
  });

  it('uses the header source when nothing else can serve, and never a link that does not carry blocks', () => {
    const blocks = chainOf(2);
    const only = fakeLink('p2p');
    const radio = fakeLink('lora', { ...CAPS, carries: ['headers', 'tx'] });
    const { f } = setup([radio, only]);
    f.setWanted(blocks, 'p2p');
    expect(only.asked).toHaveLength(2);
    expect(radio.asked).toEqual([]);
  });

  it('verifies every block: a bad one marks its source, the block is fetched elsewhere and stored once good', () => {
    const [b1] = chainOf(1);
    const liar = fakeLink('liar');
    const honest = fakeLink('honest');
    const { f, counters, store, verified } = setup([liar, honest], { perLinkInFlight: 1 });
    f.setWanted([b1]);
    expect(liar.asked).toHaveLength(1);
    const bad = Uint8Array.from(b1.raw);
    bad[bad.length - 1] ^= 1; // the coinbase locktime: the merkle root no longer matches
    expect(f.onBlock('liar', b1.hash, bad)).toBe(false);
    expect(counters.get('link.liar.invalid.block-bad-merkle-root')).toBe(1);
    expect(f.marked.get('liar')).toMatch(/block-bad-merkle-root/);
    expect(store.has(b1.hash)).toBe(false);
    expect(honest.asked).toEqual([toHex(b1.hash)]);
    expect(f.onBlock('honest', b1.hash, b1.raw)).toBe(true);
    expect(store.has(b1.hash)).toBe(true);
    expect(verified).toEqual([{ height: 1, source: 'honest' }]);
    // The marked source is asked for nothing more.
    const [, b2] = chainOf(2);
    f.setWanted([b2]);
    expect(liar.asked).toHaveLength(1);
  });

  it('a block whose header is not the validated one is refused (a source serving another chain)', () => {
    const [b1] = chainOf(1);
    const other = makeBlock(NETWORKS.regtest.genesisHeader, 99);
    const src = fakeLink('src');
    const { f, counters } = setup([src]);
    f.setWanted([b1]);
    expect(f.onBlock('src', b1.hash, other.raw)).toBe(false);
    expect(counters.get('link.src.invalid.block-header-mismatch')).toBe(1);
  });

  it('a deadline passed or a notfound sends the block to another source; all failed: a pause, then again', () => {
    const [b1] = chainOf(1);
    const a = fakeLink('a');
    const b = fakeLink('b');
    const { f, counters, advance } = setup([a, b], { timeoutMs: 5000 });
    f.setWanted([b1]);
    expect(a.asked).toHaveLength(1);
    advance(5001);
    f.tick();
    expect(counters.get('link.a.block_timeouts')).toBe(1);
    expect(b.asked).toHaveLength(1);
    f.onMissing('b', b1.hash, 'notfound');
    expect(counters.get('link.b.blocks_missing')).toBe(1);
    // Both failed it once: not asked again at once...
    f.tick();
    expect(a.asked.length + b.asked.length).toBe(2);
    // ...but after the pause.
    advance(5001);
    f.tick();
    expect(a.asked.length + b.asked.length).toBe(3);
    expect(f.failureSummary()).toMatch(/notfound/);
  });

  it('keeps at most perLinkInFlight requests per source', () => {
    const blocks = chainOf(5);
    const a = fakeLink('a');
    const { f } = setup([a], { perLinkInFlight: 2 });
    f.setWanted(blocks);
    expect(a.asked).toHaveLength(2);
    f.onBlock('a', blocks[0].hash, blocks[0].raw);
    expect(a.asked).toHaveLength(3);
    expect(a.asked[2]).toBe(toHex(blocks[2].hash));
  });
});
