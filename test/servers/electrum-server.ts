// A small Electrum server (protocol 1.4, the header methods) over TCP or TLS on loopback,
// serving the real mainnet headers, with optional lies, stalls and an overlong line.
import net from 'node:net';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { toHex } from '../../src/util/bytes.js';
import { servedChain, toldChain } from './chain.js';

/** short-headers: blockchain.block.headers stops at lieAt although the claimed tip is higher. */
export type ElectrumLie = 'bad-pow' | 'disconnected' | 'false-tip' | 'short-headers';

export interface ElectrumServerOptions {
  tls?: { cert: Buffer; key: Buffer };
  lie?: ElectrumLie;
  lieAt?: number;
  /** 'all': answer nothing; 'headers': answer everything but blockchain.block.headers. */
  stall?: 'all' | 'headers';
  /** Answer blockchain.block.headers with a line longer than any client should buffer. */
  overlong?: boolean;
  tipHeight?: number;
  /** The server's `max` for blockchain.block.headers. */
  maxChunk?: number;
}

export interface ElectrumServer {
  port: number;
  tipHeight: number;
  /** Every request's method, in order of arrival. */
  requests: string[];
  nextRequest(): Promise<string>;
  /** Resolves once the server has received a `method` request (already or later). */
  received(method: string): Promise<void>;
  /** Closes every client connection (the server stays up). */
  dropClients(): void;
  /** Moves the tip and notifies subscribed clients. */
  announce(height: number): void;
  close(): Promise<void>;
}

export async function startElectrumServer(opts: ElectrumServerOptions = {}): Promise<ElectrumServer> {
  const chain = servedChain();
  const { served, lieAt } = toldChain(opts.lie, opts.lieAt);
  const maxChunk = opts.maxChunk ?? 2016;
  const subscribed = new Set<net.Socket>();
  const sockets = new Set<net.Socket>();
  const waiters: Array<(m: string) => void> = [];

  const tipObject = () => ({
    height: opts.lie === 'false-tip' ? state.tipHeight + 50 : state.tipHeight,
    hex: toHex(served[state.tipHeight - chain.first]),
  });

  const state: ElectrumServer = {
    port: 0,
    tipHeight: opts.tipHeight ?? chain.last,
    requests: [],
    nextRequest: () => new Promise((r) => waiters.push(r)),
    received: (method) =>
      state.requests.includes(method)
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            const wait = (): Promise<void> => state.nextRequest().then(() => (state.requests.includes(method) ? resolve() : wait()));
            void wait();
          }),
    dropClients: () => {
      for (const s of sockets) s.destroy();
    },
    announce: (height) => {
      state.tipHeight = height;
      const line = JSON.stringify({ jsonrpc: '2.0', method: 'blockchain.headers.subscribe', params: [tipObject()] }) + '\n';
      for (const s of subscribed) s.write(line);
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };

  const answer = (s: net.Socket, id: unknown, result: unknown) => s.write(JSON.stringify({ jsonrpc: '2.0', id, result }) + '\n');
  const fail = (s: net.Socket, id: unknown, message: string) =>
    s.write(JSON.stringify({ jsonrpc: '2.0', id, error: { code: 1, message } }) + '\n');

  const onLine = (s: net.Socket, line: string) => {
    let req: { id?: unknown; method?: string; params?: unknown[] };
    try {
      req = JSON.parse(line);
    } catch {
      return fail(s, null, 'bad json');
    }
    const method = req.method ?? '';
    state.requests.push(method);
    for (const w of waiters.splice(0)) w(method);
    if (opts.stall === 'all') return;
    const p = req.params ?? [];
    switch (method) {
      case 'server.version':
        if (p[1] !== '1.4') return fail(s, req.id, 'unsupported protocol version');
        return answer(s, req.id, ['TestElectrum 1.0', '1.4']);
      case 'server.ping':
        return answer(s, req.id, null);
      case 'blockchain.headers.subscribe':
        subscribed.add(s);
        return answer(s, req.id, tipObject());
      case 'blockchain.block.header': {
        const h = Number(p[0]);
        if (!Number.isInteger(h) || h < chain.first || h > state.tipHeight) return fail(s, req.id, `height ${p[0]} out of range`);
        return answer(s, req.id, toHex(served[h - chain.first]));
      }
      case 'blockchain.block.headers': {
        if (opts.stall === 'headers') return;
        if (opts.overlong) {
          s.write('{"jsonrpc":"2.0","id":' + JSON.stringify(req.id) + ',"result":{"hex":"' + '00'.repeat(400_000));
          return;
        }
        const start = Number(p[0]);
        const want = Number(p[1]);
        if (!Number.isInteger(start) || !Number.isInteger(want) || want < 0) return fail(s, req.id, 'bad params');
        const from = Math.max(start, chain.first);
        const top = opts.lie === 'short-headers' ? lieAt : state.tipHeight;
        const n = from !== start ? 0 : Math.max(0, Math.min(want, maxChunk, top - start + 1));
        const hex = served
          .slice(from - chain.first, from - chain.first + n)
          .map(toHex)
          .join('');
        return answer(s, req.id, { count: n, hex, max: maxChunk });
      }
      default:
        return fail(s, req.id, `unknown method ${method}`);
    }
  };

  const onConnection = (s: net.Socket) => {
    sockets.add(s);
    let buf = '';
    s.on('data', (c: Buffer) => {
      buf += c.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim()) onLine(s, line);
      }
    });
    s.on('error', () => {});
    s.on('close', () => {
      sockets.delete(s);
      subscribed.delete(s);
    });
  };

  const server = opts.tls ? tls.createServer({ cert: opts.tls.cert, key: opts.tls.key }, onConnection) : net.createServer(onConnection);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  state.port = (server.address() as AddressInfo).port;
  return state;
}
