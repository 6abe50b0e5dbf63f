import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeServer } from '../../src/node/server.js';
import type { NodePeer, HeaderView } from '../../src/node/peer.js';
import { NETWORKS } from '../../src/chain/networks.js';
import { headerHash } from '../../src/chain/header.js';
import { Counters } from '../../src/util/counters.js';
import { memoryLogger } from '../../src/util/log.js';
import { hashToHex } from '../../src/util/bytes.js';
import { BitcoindProcess, freePort } from '../harness/bitcoind.js';

// A header view that knows only regtest genesis: enough to exercise the handshake.
const genesisOnly: HeaderView = {
  height: 0,
  locator: () => [headerHash(NETWORKS.regtest.genesisHeader)],
  headersAfter: () => [],
};

describe.each([
  { transport: 'v2', v2: true },
  { transport: 'v1', v2: false },
])('node peer handshake with Bitcoin Core 30.2 (regtest), $transport', ({ transport, v2 }) => {
  const log = memoryLogger();
  const counters = new Counters();
  const headersFromNode: Uint8Array[][] = [];
  const locatorsFromNode: Uint8Array[][] = [];
  let ready: NodePeer | undefined;
  let server: NodeServer;
  let node: BitcoindProcess;

  beforeAll(async () => {
    const port = await freePort();
    server = new NodeServer({
      host: '127.0.0.1',
      port,
      network: NETWORKS.regtest,
      log,
      counters,
      chain: genesisOnly,
      v2,
      events: {
        ready: (p) => (ready = p),
        headers: (_p, raw) => headersFromNode.push(raw),
        getheaders: (_p, loc) => locatorsFromNode.push(loc),
        inv: () => {},
        closed: () => {},
      },
    });
    await server.listen();
    node = new BitcoindProcess({ name: 'hs', args: [`-addnode=127.0.0.1:${port}`] });
    await node.start();
  });

  afterAll(async () => {
    await node?.stop();
    await server?.close();
  });

  it('completes the version handshake as a manual peer the node keeps', async () => {
    await node.waitFor('altnet in getpeerinfo with a finished handshake', async () => {
      const peers = await node.rpc<any[]>('getpeerinfo');
      return peers.find((p) => p.subver === '/altnet:0.1.0/' && p.connection_type === 'manual');
    });
    expect(ready?.isReady).toBe(true);
    const peers = await node.rpc<any[]>('getpeerinfo');
    expect(peers).toHaveLength(1);
    expect(peers[0].subver).toBe('/altnet:0.1.0/');
    expect(peers[0].transport_protocol_type).toBe(transport);
    expect(ready?.transportKind).toBe(transport);
    // Core 30.2 always tries v2 first; with v2 off we refuse it and Core retries as v1.
    expect(counters.get('node.v2_refused')).toBe(v2 ? 0 : 1);
  });

  it('learns about new blocks the node mines through headers announcements', async () => {
    const [hash] = await node.mine(1);
    await node.waitFor('a headers announcement', async () => headersFromNode.flat().some((h) => hashToHex(headerHash(h)) === hash));
    expect(counters.get('node.msg_in.headers')).toBeGreaterThan(0);
  });

  it('answers pings, so the node never times us out', async () => {
    await node.rpc('ping');
    await node.waitFor('pong recorded', async () => {
      const peers = await node.rpc<any[]>('getpeerinfo');
      return peers[0]?.pingtime !== undefined;
    });
    const banned = await node.rpc<any[]>('listbanned');
    expect(banned).toEqual([]);
  });
});
