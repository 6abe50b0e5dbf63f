// The BIP324 proxy between real Bitcoin Core 30.2 nodes (regtest). Node B speaks v2; nodes A
// and C are v1-only (-v2transport=0). A reaches B through the proxy's SOCKS5 side (-proxy=),
// C through its plain v1 side with a fixed -to=B. B must report both peers as
// transport_protocol_type v2 with the proxy's session ids, and blocks mined on either side
// and a transaction sent from A must reach the other side.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bip324Proxy } from '../../src/proxy/proxy.js';
import { Counters } from '../../src/util/counters.js';
import { memoryLogger } from '../../src/util/log.js';
import { BitcoindProcess } from '../harness/bitcoind.js';

/** A v2 peer of `node` whose session id one of the proxy's connections holds. */
async function v2PeerVia(node: BitcoindProcess, proxy: Bip324Proxy): Promise<any> {
  return node.waitFor('an inbound v2 peer carried by the proxy', async () => {
    const ids = new Set(proxy.connections().map((c) => c.sessionId));
    const peers = await node.rpc<any[]>('getpeerinfo');
    return peers.find((p) => p.inbound && p.transport_protocol_type === 'v2' && ids.has(p.session_id) && p.version > 0);
  });
}

async function height(node: BitcoindProcess): Promise<number> {
  return node.rpc<number>('getblockcount');
}

/** Raw tx spending output 0 of `txid` (a P2WSH(OP_TRUE) coinbase, see BitcoindProcess.mine) to the same script. */
function spendOpTrue(txid: string, sats: bigint, scriptHex: string): string {
  const value = Buffer.alloc(8);
  value.writeBigUInt64LE(sats - 20_000n);
  const script = Buffer.from(scriptHex, 'hex');
  return Buffer.concat([
    Buffer.from('02000000' + '0001' + '01', 'hex'),
    Buffer.from(txid, 'hex').reverse(),
    Buffer.from('00000000' + '00' + 'ffffffff' + '01', 'hex'),
    value,
    Buffer.from([script.length]),
    script,
    Buffer.from('01' + '01' + '51' + '00000000', 'hex'), // witness: the script OP_TRUE; locktime
  ]).toString('hex');
}

describe('BIP324 proxy between Bitcoin Core 30.2 nodes', () => {
  const log = memoryLogger();
  const counters = new Counters();
  let b: BitcoindProcess;
  let a: BitcoindProcess;
  let c: BitcoindProcess;
  let socksProxy: Bip324Proxy;
  let plainProxy: Bip324Proxy;

  const diag = () => `--- proxy log ---\n${log.lines.slice(-20).join('\n')}`;

  beforeAll(async () => {
    b = new BitcoindProcess({ name: 'proxy-B', args: ['-v2transport=1'] });
    await b.start();
    socksProxy = new Bip324Proxy({ listen: { host: '127.0.0.1', port: 0 }, log: log.child('socks'), counters: counters.scoped('socks.') });
    plainProxy = new Bip324Proxy({
      listen: { host: '127.0.0.1', port: 0 },
      to: { host: '127.0.0.1', port: b.p2pPort },
      log: log.child('plain'),
      counters: counters.scoped('plain.'),
    });
    const [socksPort, plainPort] = [await socksProxy.listen(), await plainProxy.listen()];
    // Core sends only routable addresses through -proxy (127.0.0.1 is NET_UNROUTABLE, dialled
    // directly); a name goes to the proxy unresolved, as a SOCKS5 DOMAINNAME request.
    a = new BitcoindProcess({
      name: 'proxy-A',
      args: ['-v2transport=0', `-proxy=127.0.0.1:${socksPort}`, `-addnode=localhost:${b.p2pPort}`],
    });
    c = new BitcoindProcess({ name: 'proxy-C', args: ['-v2transport=0', `-addnode=127.0.0.1:${plainPort}`] });
    await Promise.all([a.start(), c.start()]);
  });

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop(), c?.stop()]);
    await Promise.all([socksProxy?.close(), plainProxy?.close()]);
  });

  it('SOCKS5: a v1-only node (-proxy=) gets a v2 connection; blocks both ways and a transaction cross it', async () => {
    const peer = await v2PeerVia(b, socksProxy).catch((e) => Promise.reject(new Error(`${e.message}\n${diag()}\n--- A ---\n${a.log(60)}`)));
    expect(peer.transport_protocol_type).toBe('v2');
    const fromA = await a.rpc<any[]>('getpeerinfo');
    expect(fromA.map((p) => [p.addr, p.transport_protocol_type])).toEqual([[`localhost:${b.p2pPort}`, 'v1']]); // A only speaks v1
    expect(counters.get('socks.socks5')).toBeGreaterThanOrEqual(1);

    // 101 blocks on A (so its first coinbase matures) reach B; one block on B reaches A.
    const minedOnA = await a.mine(101);
    await b.waitFor("B at A's tip", async () => (await b.rpc<string>('getbestblockhash')) === minedOnA[100]);
    const [minedOnB] = await b.mine(1);
    await a.waitFor("A at B's tip", async () => (await a.rpc<string>('getbestblockhash')) === minedOnB);

    // A transaction sent on A arrives in B's mempool.
    const block1 = await a.rpc<any>('getblock', minedOnA[0], 2);
    const cb = block1.tx[0];
    const raw = spendOpTrue(cb.txid, BigInt(Math.round(cb.vout[0].value * 1e8)), cb.vout[0].scriptPubKey.hex);
    const txid = await a.rpc<string>('sendrawtransaction', raw);
    expect(txid).toMatch(/^[0-9a-f]{64}$/);
    await b.waitFor("the transaction in B's mempool", async () => (await b.rpc<string[]>('getrawmempool')).includes(txid), 45_000);
    expect(counters.get('socks.messages_to_client')).toBeGreaterThan(0);
  });

  it('plain v1 with -to=: a v1-only node dialling the proxy reaches B over v2; blocks both ways', async () => {
    const peer = await v2PeerVia(b, plainProxy);
    expect(plainProxy.connections().find((x) => x.sessionId === peer.session_id)).toMatchObject({
      mode: 'plain',
      transport: 'v2',
      network: 'regtest',
    });
    await c.waitFor('C synced to B', async () => (await height(c)) === (await height(b)));
    const [minedOnC] = await c.mine(1);
    await b.waitFor("B at C's tip", async () => (await b.rpc<string>('getbestblockhash')) === minedOnC);
    const [minedOnB] = await b.mine(1);
    await c.waitFor("C at B's tip", async () => (await c.rpc<string>('getbestblockhash')) === minedOnB);
    expect(counters.get('plain.plain')).toBeGreaterThanOrEqual(1);
    expect(counters.get('plain.errors.proxy-v2-refused')).toBe(0);
  });
});
