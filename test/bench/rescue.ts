// Rescue figures (DESIGN.md section 4, issue 12):
//  - verify: block verification rate (src/blocks/verify.ts) on the two shared mainnet blocks,
//    against bitcoinjs-lib (Block.fromBuffer + checkTxRoots, which checks the merkle root and
//    the witness commitment) and a bare baseline (node:crypto double SHA-256 of the block twice,
//    the least hashing any verifier does: txids and wtxids), all in this run;
//  - catchUp: real Bitcoin Core 30.2 regtest nodes. Honest node B mines 6 (then 144) blocks
//    carrying real-sized wallet transactions (segwit, several per block) on top of a prefix node
//    A also has. Headers are handed to A's gateway; the time until A's active tip is B's tip is
//    measured, blocks fetched over a `p2p` link to B, verified, pushed to A. Reference in the
//    same run: node C, with the same prefix, syncing the same blocks from B directly (Core's own
//    headers-first download over one P2P connection).
// Run: npx tsc -p tsconfig.json && node dist/test/bench/run.js rescue
import { readFileSync } from 'node:fs';
import { hash as nodeHash } from 'node:crypto';
import { Block } from 'bitcoinjs-lib';
import { verifyBlock } from '../../src/blocks/verify.js';
import { NETWORKS } from '../../src/chain/networks.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { BitcoindProcess, sleep } from '../../src/node/bitcoind.js';
import { fromHex } from '../../src/util/bytes.js';
import { memoryLogger } from '../../src/util/log.js';
import { SHARED_DATA } from '../harness/data.js';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function timeIt(reps: number, f: () => void): { medianMs: number; bestMs: number } {
  for (let i = 0; i < 3; i++) f();
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    f();
    t.push(performance.now() - t0);
  }
  return { medianMs: median(t), bestMs: Math.min(...t) };
}

function verifyRates(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, path] of [
    ['830000', SHARED_DATA.block830000],
    ['831328', SHARED_DATA.block831328],
  ] as const) {
    const raw = new Uint8Array(readFileSync(path));
    const header = raw.subarray(0, 80);
    const mb = raw.length / 1e6;
    const ours = timeIt(30, () => verifyBlock(raw, header));
    const lib = timeIt(10, () => {
      const b = Block.fromBuffer(Buffer.from(raw.buffer, raw.byteOffset, raw.length));
      if (!b.checkTxRoots()) throw new Error('bitcoinjs-lib rejects the block');
    });
    const bare = timeIt(30, () => {
      nodeHash('sha256', nodeHash('sha256', raw, 'buffer'), 'buffer');
      nodeHash('sha256', nodeHash('sha256', raw, 'buffer'), 'buffer');
    });
    out[`block${name}`] = {
      bytes: raw.length,
      txs: verifyBlock(raw, header).txCount,
      altnetMBps: +(mb / (ours.medianMs / 1000)).toFixed(1),
      altnetBestMBps: +(mb / (ours.bestMs / 1000)).toFixed(1),
      bitcoinjsMBps: +(mb / (lib.medianMs / 1000)).toFixed(1),
      bareDoubleSha256x2MBps: +(mb / (bare.medianMs / 1000)).toFixed(1),
      altnetMs: +ours.medianMs.toFixed(2),
      speedupVsBitcoinjs: +(lib.medianMs / ours.medianMs).toFixed(2),
      timeVsBareHashing: +(ours.medianMs / bare.medianMs).toFixed(2),
    };
  }
  return out;
}

/** B mines `n` blocks with `txPerBlock` wallet transactions each (20 outputs: ~900 bytes). */
async function mineWithTxs(b: BitcoindProcess, wallet: string, n: number, txPerBlock: number): Promise<void> {
  const addrs: string[] = [];
  for (let i = 0; i < 20; i++) addrs.push(await b.rpc<string>('getnewaddress'));
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < txPerBlock; k++) {
      const outs = Object.fromEntries(addrs.map((a, j) => [a, (0.001 + 0.0001 * ((i + k + j) % 7)).toFixed(8)]));
      await b.rpc('sendmany', '', outs);
    }
    await b.rpc('generatetoaddress', 1, wallet);
  }
}

async function catchUp(blocks: number, txPerBlock: number): Promise<Record<string, unknown>> {
  const nodeB = new BitcoindProcess({ name: 'bench-B' });
  const nodeA = new BitcoindProcess({ name: 'bench-A' });
  const nodeC = new BitcoindProcess({ name: 'bench-C' });
  let gw: Gateway | undefined;
  try {
    await Promise.all([nodeB.start(), nodeA.start(), nodeC.start()]);
    await nodeB.rpc('createwallet', 'bench');
    const wallet = await nodeB.rpc<string>('getnewaddress');
    await nodeB.rpc('generatetoaddress', 110, wallet);
    const prefix = await nodeB.rpc<number>('getblockcount');
    await Promise.all([nodeA.copyBlocksFrom(nodeB, 1), nodeC.copyBlocksFrom(nodeB, 1)]);
    await mineWithTxs(nodeB, wallet, blocks, txPerBlock);
    const bTip = await nodeB.rpc<string>('getbestblockhash');
    let bytes = 0;
    const headers: Uint8Array[] = [];
    for (let h = 1; h <= prefix + blocks; h++) {
      const hash = await nodeB.rpc<string>('getblockhash', h);
      headers.push(fromHex(await nodeB.rpc<string>('getblockheader', hash, false)));
      if (h > prefix) bytes += (await nodeB.rpc<{ size: number }>('getblock', hash, 1)).size;
    }

    const gwLog = memoryLogger();
    gw = await Gateway.start({
      network: NETWORKS.regtest,
      listen: { host: '127.0.0.1', port: 0 },
      mode: 'receive-only',
      links: [{ name: 'blocks', type: 'p2p', options: { type: 'p2p', peer: `127.0.0.1:${nodeB.p2pPort}`, headers: '0' } }],
      log: gwLog,
      checkpoint: null,
    });
    // The prefix first (A has it: nothing to rescue), then A connects.
    gw.router.onLinkHeaders('radio', headers.slice(0, prefix));
    await nodeA.rpc('addnode', `127.0.0.1:${gw.nodePort}`, 'onetry');
    await nodeA.waitFor('A connected to altnet', async () => (await nodeA.rpc<unknown[]>('getpeerinfo')).length === 1);
    const upBy = Date.now() + 120_000;
    while (gw.link('blocks')?.state !== 'up') {
      if (Date.now() > upBy) throw new Error(`p2p link to B not up within 120 s:\n${gwLog.lines.slice(-20).join('\n')}`);
      await sleep(100);
    }
    await sleep(500);

    // Headers delivered -> A's active tip = B's tip.
    const t0 = performance.now();
    gw.router.onLinkHeaders('radio', headers.slice(prefix));
    gw.rescue.noteHeaderLink('radio'); // what the gateway does when a link's headers move its tip
    while ((await nodeA.rpc<string>('getbestblockhash')) !== bTip) {
      if (performance.now() - t0 > 300_000) throw new Error("A did not reach B's tip within 300 s");
      await sleep(10);
    }
    const altnetMs = performance.now() - t0;
    const rescue = gw.rescue.records()[0];

    // Reference: C fetches the same blocks from B itself.
    const t1 = performance.now();
    await nodeC.rpc('addnode', `127.0.0.1:${nodeB.p2pPort}`, 'onetry');
    while ((await nodeC.rpc<string>('getbestblockhash')) !== bTip) {
      if (performance.now() - t1 > 300_000) throw new Error("C did not reach B's tip within 300 s");
      await sleep(10);
    }
    const coreMs = performance.now() - t1;
    return {
      blocks,
      txPerBlock,
      blockBytes: bytes,
      headersToTipMs: Math.round(altnetMs),
      coreDirectSyncMs: Math.round(coreMs),
      ratioToCoreDirect: +(altnetMs / coreMs).toFixed(2),
      deliveredVia: rescue?.deliveredVia,
      verifiedBy: rescue?.blockSources,
    };
  } finally {
    await gw?.stop();
    await Promise.allSettled([nodeA.stop(), nodeB.stop(), nodeC.stop()]);
  }
}

export async function bench(): Promise<Record<string, unknown>> {
  return {
    verify: verifyRates(),
    catchUp6: await catchUp(6, 5),
    catchUp144: await catchUp(144, 1),
    notes:
      'verify: median MB/s of serialized block over 30 runs (best too); catchUp: ms from headers handed to the gateway to getbestblockhash = honest tip (polled every 10 ms), blocks over a p2p link (headers=0) to B; reference = the same blocks synced by Core from B directly, same run',
  };
}
