// A small Esplora REST server (the subset altnet uses) over HTTP or HTTPS on loopback, serving
// the real mainnet headers, with optional lies and a stalling mode.
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { headerHash } from '../../src/chain/header.js';
import { hashToHex, hexToHash, toHex } from '../../src/util/bytes.js';
import { servedChain, toldChain } from './chain.js';

export type EsploraLie = 'bad-pow' | 'disconnected' | 'false-tip' | 'wrong-header';

export interface EsploraServerOptions {
  tls?: { cert: Buffer; key: Buffer };
  lie?: EsploraLie;
  /** Height where the lie starts (default: first + 10). */
  lieAt?: number;
  /** With lie 'disconnected': serve the bad header once, then go back to the real chain (a reorg). */
  reorgAfterLie?: boolean;
  /** Accept requests and never answer. */
  stall?: boolean;
  tipHeight?: number;
}

export interface EsploraServer {
  url: string;
  /** Requests received, as "METHOD path". */
  requests: string[];
  /** Raw transactions POSTed to /tx. */
  txs: string[];
  tipHeight: number;
  /** Answer every request with HTTP 503 (a server that is down behind its proxy). */
  down: boolean;
  /** Resolves when the next request arrives (stall tests wait for it before firing timers). */
  nextRequest(): Promise<string>;
  close(): Promise<void>;
}

export async function startEsploraServer(opts: EsploraServerOptions = {}): Promise<EsploraServer> {
  const chain = servedChain();
  const { served, lieAt } = toldChain(opts.lie, opts.lieAt);
  const servedHashes = served.map(headerHash);
  const byHash = new Map<string, number>();
  byHash.set(toHex(chain.parentHash), chain.first - 1);
  servedHashes.forEach((h, i) => byHash.set(toHex(h), chain.first + i));

  const waiters: Array<(r: string) => void> = [];
  const sockets = new Set<import('node:net').Socket>();
  const state: EsploraServer = {
    url: '',
    requests: [],
    txs: [],
    tipHeight: opts.tipHeight ?? chain.last,
    down: false,
    nextRequest: () => new Promise((r) => waiters.push(r)),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };

  const hashAtHeight = (h: number): Uint8Array | undefined => {
    if (h > state.tipHeight) return undefined;
    if (h === chain.first - 1) return chain.parentHash;
    return servedHashes[h - chain.first];
  };

  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const tag = `${req.method} ${req.url}`;
    state.requests.push(tag);
    for (const w of waiters.splice(0)) w(tag);
    if (opts.stall) return; // never answer
    const send = (status: number, body: string) => {
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(body);
    };
    if (state.down) return send(503, 'Service Unavailable');
    const path = (req.url ?? '').replace(/^\/api/, '');
    let m: RegExpExecArray | null;
    if (req.method === 'POST' && path === '/tx') {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        state.txs.push(body);
        if (!/^[0-9a-f]+$/.test(body)) return send(400, 'sendrawtransaction RPC error: {"code":-22,"message":"TX decode failed"}');
        import('bitcoinjs-lib').then(
          ({ Transaction }) => send(200, Transaction.fromHex(body).getId()),
          () => send(500, 'x'),
        );
      });
      return;
    }
    if (req.method !== 'GET') return send(405, 'method not allowed');
    if (path === '/blocks/tip/height') {
      return send(200, String(opts.lie === 'false-tip' ? state.tipHeight + 50 : state.tipHeight));
    }
    if (path === '/blocks/tip/hash') {
      if (opts.lie === 'false-tip') return send(200, 'ab'.repeat(32));
      return send(200, hashToHex(hashAtHeight(state.tipHeight)!));
    }
    if ((m = /^\/block-height\/(\d+)$/.exec(path))) {
      const h = hashAtHeight(Number(m[1]));
      if (opts.reorgAfterLie && Number(m[1]) === lieAt) {
        // Answer with the lie this once, then switch (back) to the real chain.
        const i = lieAt - chain.first;
        served[i] = chain.headers[i];
        servedHashes[i] = chain.hashes[i];
        byHash.set(toHex(chain.hashes[i]), lieAt);
      }
      return h ? send(200, hashToHex(h)) : send(404, 'Block not found');
    }
    if ((m = /^\/block\/([0-9a-f]{64})\/header$/.exec(path))) {
      const height = byHash.get(toHex(hexToHash(m[1])));
      if (height === undefined || height < chain.first || height > state.tipHeight) return send(404, 'Block not found');
      const i = height - chain.first;
      const header = opts.lie === 'wrong-header' && height === lieAt ? served[i + 1] : served[i];
      return send(200, toHex(header));
    }
    if ((m = /^\/block\/([0-9a-f]{64})\/status$/.exec(path))) {
      const height = byHash.get(toHex(hexToHash(m[1])));
      if (height === undefined || height > state.tipHeight) return send(200, JSON.stringify({ in_best_chain: false }));
      const next = hashAtHeight(height + 1);
      return send(200, JSON.stringify({ in_best_chain: true, height, next_best: next ? hashToHex(next) : null }));
    }
    send(404, 'not found');
  };

  const server = opts.tls ? https.createServer({ cert: opts.tls.cert, key: opts.tls.key }, handler) : http.createServer(handler);
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('secureConnection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  state.url = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}/api`;
  return state;
}
