import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { create, P2PLink } from '../../../src/links/p2p/p2p.js';
import { NETWORKS } from '../../../src/chain/networks.js';
import { headerHash } from '../../../src/chain/header.js';
import { ConfigError } from '../../../src/util/errors.js';
import { BitcoindProcess } from '../../harness/bitcoind.js';
import { headersFromNode } from '../../harness/gateway.js';
import { servedChain } from '../../servers/chain.js';
import { compareRuns, manualTimers, recordingContext } from '../../servers/context.js';
import { startFakePeer, type FakePeer, type PeerLie } from '../../servers/p2p-peer.js';
import { expectTimedOutNotMarked, itCatchesEachLie, lifecycle } from '../../servers/lifecycle.js';

const chain = servedChain();
const { track, serve } = lifecycle();
const peer = (opts: Parameters<typeof startFakePeer>[0] = {}): Promise<FakePeer> => serve(startFakePeer(opts));

describe('p2p link against a real regtest bitcoind', () => {
  let node: BitcoindProcess;
  beforeAll(async () => {
    node = await new BitcoindProcess({ name: 'p2plink' }).start();
    await node.mine(30);
  });
  afterAll(async () => {
    await node?.stop();
  });

  it('handshakes, fetches the headers after genesis, reports the tip, and follows a newly mined block', async () => {
    const rec = recordingContext(NETWORKS.regtest);
    const link = track(create({ name: 'p1', type: 'p2p', peer: `127.0.0.1:${node.p2pPort}` }, rec.ctx));
    await link.start();
    expect(rec.states.at(-1)?.state).toBe('up');
    await link.requestHeaders!([headerHash(NETWORKS.regtest.genesisHeader)]);
    const want = await headersFromNode(node, 1);
    expect(compareRuns(rec.all(), want)).toBe('same');
    expect(rec.tips.at(-1)).toEqual({ height: 30, hash: headerHash(want[29]) });

    await node.mine(1);
    const [h31] = await headersFromNode(node, 31);
    await vi.waitFor(() => expect(rec.all().length).toBe(31), { timeout: 20_000, interval: 100 });
    expect(compareRuns(rec.all().slice(30), [h31])).toBe('same');
    expect(rec.counters.get('lies')).toBe(0);
    // Bitcoin Core 30.2 speaks BIP324: the link's connection is v2, as the node itself reports.
    const inbound = (await node.rpc<any[]>('getpeerinfo')).filter((p) => p.inbound);
    expect(inbound.map((p) => p.transport_protocol_type)).toEqual(['v2']);
    expect(rec.counters.get('v2.refused')).toBe(0);
  });

  it('falls back to v1 with a node that does not speak v2, and stays on v1 for it', async () => {
    const v1node = await new BitcoindProcess({ name: 'p2plink-v1', args: ['-v2transport=0'] }).start();
    try {
      await v1node.mine(5);
      const rec = recordingContext(NETWORKS.regtest);
      const link = track(create({ name: 'p3', type: 'p2p', peer: `127.0.0.1:${v1node.p2pPort}` }, rec.ctx));
      await link.start();
      await link.requestHeaders!([headerHash(NETWORKS.regtest.genesisHeader)]);
      expect(compareRuns(rec.all(), await headersFromNode(v1node, 1))).toBe('same');
      expect(rec.counters.get('v2.refused')).toBe(1);
      const inbound = (await v1node.rpc<any[]>('getpeerinfo')).filter((p) => p.inbound);
      expect(inbound.map((p) => p.transport_protocol_type)).toEqual(['v1']);
    } finally {
      await v1node.stop();
    }
  });

  it('speaks only v1 when told to (v2=0)', async () => {
    const rec = recordingContext(NETWORKS.regtest);
    const link = track(create({ name: 'p4', type: 'p2p', peer: `127.0.0.1:${node.p2pPort}`, v2: '0' }, rec.ctx));
    await link.start();
    await link.requestHeaders!([headerHash(NETWORKS.regtest.genesisHeader)]);
    expect(rec.all().length).toBeGreaterThanOrEqual(30);
    const inbound = (await node.rpc<any[]>('getpeerinfo')).filter((p) => p.inbound && p.transport_protocol_type === 'v1');
    expect(inbound.length).toBeGreaterThanOrEqual(1);
    expect(() => create({ name: 'p5', peer: '127.0.0.1:1', v2: 'yes' }, rec.ctx)).toThrow(ConfigError);
  });
});

describe('p2p link against lying and stalling peers', () => {
  it('fetches real mainnet headers from a peer after the checkpoint', async () => {
    const p = await peer();
    const rec = recordingContext();
    const link = track(create({ name: 'p2', peer: `127.0.0.1:${p.port}` }, rec.ctx));
    await link.start();
    await link.requestHeaders!([chain.parentHash]);
    expect(compareRuns(rec.all(), chain.headers.slice(0, 2000))).toBe('same');
    // A full message: the peer may have more, so no tip is claimed.
    expect(rec.tips).toHaveLength(0);
  });

  const lies: Array<[PeerLie, string]> = [
    ['bad-pow', 'lie.bad-pow'],
    ['disconnected', 'lie.disconnected'],
    ['not-after-locator', 'lie.disconnected'],
  ];
  itCatchesEachLie('peer', lies, [chain.parentHash], async (lie) => {
    const p = await peer({ lie });
    const rec = recordingContext();
    const link = track(create({ name: 'liar', peer: `127.0.0.1:${p.port}` }, rec.ctx));
    return { link, rec, asked: () => p.commands.filter((c) => c === 'getheaders').length };
  });

  it('drops a peer that sends garbage, counting it without marking it', async () => {
    const p = await peer({ lie: 'garbage' });
    const rec = recordingContext();
    const link = track(create({ name: 'junk', peer: `127.0.0.1:${p.port}` }, rec.ctx));
    await link.start();
    await link.requestHeaders!([chain.parentHash]);
    expect(rec.counters.get('bad-answers')).toBe(1);
    expect(rec.counters.get('failures')).toBe(1);
    expect((link as P2PLink).markedReason).toBeNull();
  });

  it('counts a peer that never answers getheaders as a timeout', async () => {
    const p = await peer({ stall: true });
    const rec = recordingContext();
    const timers = manualTimers();
    const link = track(new P2PLink({ name: 'slow', host: '127.0.0.1', port: p.port, timeoutMs: 5_000, timers }, rec.ctx));
    await link.start();
    const done = link.requestHeaders([chain.parentHash]);
    await p.received('getheaders');
    await expectTimedOutNotMarked(timers, 5_000, done, link, rec);
  });

  it('validates its configuration with clear errors', () => {
    const { ctx } = recordingContext();
    expect(() => create({ name: 'x' }, ctx)).toThrow(/link\.x\.peer is required/);
    expect(() => create({ name: 'x', peer: 'host' }, ctx)).toThrow(ConfigError);
    expect(() => create({ name: 'x', peer: 'h:1', seeds: 'a' }, ctx)).toThrow(/unknown option/);
  });
});
