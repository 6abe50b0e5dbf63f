// A local Esplora-style block server for the rescue tests: GET /block/:hash/raw answers with a
// real node's raw block (over its RPC), optionally damaged the way a lying server would: a
// transaction changed (merkle root no longer matches) or the coinbase's witness reserved value
// changed (BIP141 commitment no longer matches, merkle root intact).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Block } from 'bitcoinjs-lib';
import type { BitcoindProcess } from '../../src/node/bitcoind.js';

export type BlockLie = 'merkle' | 'witness';

export interface BlockServer {
  url: string;
  /** Hashes of the blocks served, in request order. */
  served: string[];
  close(): Promise<void>;
}

/** Damages a raw block as `lie` says; the header stays the real one. */
export function damageBlock(raw: Buffer, lie: BlockLie): Buffer {
  const out = Buffer.from(raw);
  const block = Block.fromBuffer(raw);
  const cb = block.transactions![0];
  const cbBytes = cb.toBuffer();
  const at = raw.indexOf(cbBytes, 80);
  if (lie === 'merkle') {
    // The coinbase's locktime: part of its txid.
    out[at + cbBytes.length - 1] ^= 1;
  } else {
    // The last byte of the 32-byte witness reserved value, just before the locktime.
    if (!cb.hasWitnesses()) throw new Error('coinbase has no witness to damage');
    out[at + cbBytes.length - 5] ^= 1;
  }
  return out;
}

export async function startBlockServer(node: BitcoindProcess, lie?: BlockLie): Promise<BlockServer> {
  const state: BlockServer = { url: '', served: [], close: async () => {} };
  const server = http.createServer((req, res) => {
    const m = /^\/block\/([0-9a-f]{64})\/raw$/.exec(req.url ?? '');
    if (!m) {
      res.writeHead(404).end('not found');
      return;
    }
    node
      .rpc<string>('getblock', m[1], 0)
      .then((hex) => {
        let raw: Buffer = Buffer.from(hex, 'hex');
        if (lie) raw = damageBlock(raw, lie);
        state.served.push(m[1]);
        res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(raw);
      })
      .catch(() => res.writeHead(404).end('Block not found'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () => new Promise<void>((r) => server.close(() => r()));
  return state;
}
