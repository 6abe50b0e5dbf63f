// The transaction acknowledgement round trip over a real AFSK 1200 link: two gateways, each on
// one of two Debian direwolf modems joined through audio (test/emulators/direwolf.ts), each beside
// a real Bitcoin Core 30.2 regtest node:
//   altnet send-tx -> gateway A -> KISS -> direwolf 1 ~~AFSK 1200~~ direwolf 2 -> KISS -> gateway B
//   -> node B's mempool; gateway B finds it there and sends TXACK back over the modems; gateway A
//   marks it relayed and stops sending it on the radio.
// Node A got the transaction from gateway A itself (txtonode on, the default), so Core never
// announces it back: without the TXACK gateway A would keep it pending and resend it for days.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NETWORKS } from '../../src/chain/networks.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { direwolfMissing, startDirewolfPair, workdir, type DirewolfPair } from '../emulators/direwolf.js';
import { BitcoindProcess, freePort } from '../harness/bitcoind.js';
import { gatewayLogs, regtestWallet, runCli } from './send-tx-helpers.js';

const missing = direwolfMissing();
if (missing) console.warn(`skipping the Dire Wolf acknowledgement test: ${missing}`);

describe.skipIf(missing !== undefined)('a transaction sent over two real Dire Wolf modems is acknowledged back', () => {
  const wd = workdir();
  let root: string;
  let pair: DirewolfPair;
  let gwA: Gateway;
  let gwB: Gateway;
  const { logA, logB, tail } = gatewayLogs();
  let nodeA: BitcoindProcess;
  let nodeB: BitcoindProcess;
  const wallet = regtestWallet('altnet direwolf txack e2e key');
  const diag = () => `${tail()}\n${pair.diag()}`;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'altnet-dw-txack-'));
    pair = await startDirewolfPair(wd.dir);
    const link = (kissPort: number, callsign: string) => ({
      name: 'ham',
      type: 'kiss',
      options: { type: 'kiss', tcp: `127.0.0.1:${kissPort}`, callsign },
    });
    const common = { network: NETWORKS.regtest, checkpoint: null, outboxRescanMs: 250, linkRestartMaxMs: 2000 } as const;
    gwA = await Gateway.start({
      ...common,
      listen: { host: '127.0.0.1', port: await freePort() },
      links: [link(pair.stations[0].kissPort, 'N0CALL-7')],
      datadir: join(root, 'gwA'),
      log: logA,
    });
    gwB = await Gateway.start({
      ...common,
      listen: { host: '127.0.0.1', port: await freePort() },
      links: [link(pair.stations[1].kissPort, 'N0CALL-8')],
      datadir: join(root, 'gwB'),
      log: logB,
    });
    nodeA = new BitcoindProcess({ name: 'A', args: [`-addnode=127.0.0.1:${gwA.nodePort}`] });
    nodeB = new BitcoindProcess({ name: 'B', args: [`-addnode=127.0.0.1:${gwB.nodePort}`, '-debug=mempool'] });
    await Promise.all([nodeA.start(), nodeB.start()]);
    await nodeA.waitFor('both gateways connected to their nodes', async () => {
      return gwA.status().node.connections === 1 && gwB.status().node.connections === 1;
    });
    await nodeA.waitFor('both KISS links up', async () => gwA.link('ham')?.state === 'up' && gwB.link('ham')?.state === 'up');
  }, 120_000);

  afterAll(async () => {
    await Promise.all([nodeA?.stop(), nodeB?.stop()]);
    await Promise.all([gwA?.stop(), gwB?.stop()]);
    await pair?.stop();
    wd.remove();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('reaches node B over AFSK 1200, and the TXACK back marks it relayed at gateway A', async () => {
    const hashes = await nodeB.rpc<string[]>('generatetoaddress', 101, wallet.address);
    await nodeA.copyBlocksFrom(nodeB, 1);
    expect(await nodeA.rpc<string>('getbestblockhash')).toBe(hashes[hashes.length - 1]);
    // Both nodes are eclipsed but for their gateways: the radio is the only way across.
    expect((await nodeA.rpc<any[]>('getpeerinfo')).map((p) => p.subver)).toEqual(['/altnet:0.1.0/']);
    expect((await nodeB.rpc<any[]>('getpeerinfo')).map((p) => p.subver)).toEqual(['/altnet:0.1.0/']);

    const coinbase = (await nodeB.rpc<any>('getblock', hashes[0], 2)).tx[0];
    const tx = wallet.spend(coinbase.txid, 5_000_000_000n);

    const queued = await runCli(['send-tx', tx.hex, '--conf=none', '-regtest', `-datadir=${join(root, 'gwA')}`]);
    expect(queued.code, queued.stderr).toBe(0);
    await nodeB.waitFor(
      () => `tx in node B's mempool\n${diag()}`,
      async () => (await nodeB.rpc<string[]>('getrawmempool')).includes(tx.id),
      180_000,
    );
    // Node B took it from its altnet gateway: the radio.
    const altnetPeerOnB = (await nodeB.rpc<any[]>('getpeerinfo'))[0].id;
    expect(nodeB.grepLog(new RegExp(`peer=${altnetPeerOnB}: accepted ${tx.id}`))).toHaveLength(1);
    // Direwolf 2 decoded gateway A's frames; direwolf 1 gateway B's (the TXACK).
    await nodeA.waitFor(
      () => `gateway A got the TXACK\n${diag()}`,
      async () => gwA.outbox!.pending()[0]?.relayedAt !== undefined,
      180_000,
    );
    expect(pair.stations[1].output()).toMatch(/N0CALL-7>ALTNET:/);
    expect(pair.stations[0].output()).toMatch(/N0CALL-8>ALTNET:/);
    const status = gwA.outbox!.pending();
    expect(status.map((p) => p.txid)).toEqual([tx.id]);
    expect(status[0].relayedVia).toBe('ham');
    expect(gwB.counters.get('txack.sent')).toBeGreaterThanOrEqual(1);
    expect(existsSync(join(root, 'gwA', 'outbox', 'regtest', 'relayed', `${tx.id}.json`))).toBe(true);
    expect(logA.lines.some((l) => l.includes('far gateway acknowledged the transaction; relayed') && l.includes(tx.id))).toBe(true);
    console.log('direwolf txack air', JSON.stringify(pair.stats()));
  }, 420_000);
});
