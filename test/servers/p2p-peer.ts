// A fake mainnet P2P peer on loopback (v1 framing, from the node side's codecs) that serves the
// real headers on getheaders, or lies, or stalls. The honest case is tested against bitcoind.
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { NETWORKS } from '../../src/chain/networks.js';
import { decodeGetHeaders, encodeHeaders, encodeVersion, PROTOCOL_VERSION } from '../../src/node/messages.js';
import { V1Transport } from '../../src/node/transport.js';
import { breakPow, servedChain } from './chain.js';

export type PeerLie = 'bad-pow' | 'disconnected' | 'not-after-locator' | 'garbage';

export interface FakePeerOptions {
  lie?: PeerLie;
  stall?: boolean;
  /** Address to listen on (default 127.0.0.1; all of 127/8 is loopback on Linux). */
  host?: string;
  /** Port to listen on (default: any free one). */
  port?: number;
  /** Network whose magic it speaks (default main; it serves mainnet headers whatever this says). */
  network?: keyof typeof NETWORKS;
  /** IPv4 host:port pairs it answers getaddr with (one `addr` message). */
  addrs?: Array<{ host: string; port: number }>;
  /** Raw `addrv2` payloads (BIP155) it answers getaddr with, one message each, if the peer sent sendaddrv2. */
  addrv2?: Uint8Array[];
}

export interface FakePeer {
  port: number;
  commands: string[];
  /** Resolves once the peer has received `command` (already or later). */
  received(command: string): Promise<void>;
  close(): Promise<void>;
}

export async function startFakePeer(opts: FakePeerOptions = {}): Promise<FakePeer> {
  const chain = servedChain();
  const sockets = new Set<net.Socket>();
  const waiters: Array<{ command: string; resolve: () => void }> = [];
  const state: FakePeer = {
    port: 0,
    commands: [],
    received: (command) =>
      state.commands.includes(command) ? Promise.resolve() : new Promise((resolve) => waiters.push({ command, resolve })),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    const t = new V1Transport(NETWORKS[opts.network ?? 'main'].magic);
    const send = (command: string, payload: Uint8Array) => s.write(t.encode({ command, payload }));
    s.on('data', (chunk: Buffer) => {
      let messages;
      try {
        messages = t.receive(new Uint8Array(chunk)).messages;
      } catch {
        // A v1-only node hangs up on bytes it cannot parse (a BIP324 v2 key, garbage).
        s.destroy();
        return;
      }
      for (const m of messages) {
        state.commands.push(m.command);
        for (const w of waiters.filter((x) => x.command === m.command)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
        if (m.command === 'version') {
          const none = { services: 0n, ip: new Uint8Array(16), port: 0 };
          send(
            'version',
            encodeVersion({
              version: PROTOCOL_VERSION,
              services: 9n,
              timestamp: BigInt(Math.floor(Date.now() / 1000)),
              addrRecv: none,
              addrFrom: none,
              nonce: 42n,
              userAgent: '/fake:1.0/',
              startHeight: chain.last,
              relay: false,
            }),
          );
          send('verack', new Uint8Array(0));
        } else if (m.command === 'getaddr' && opts.addrv2 && state.commands.includes('sendaddrv2')) {
          for (const payload of opts.addrv2) send('addrv2', payload);
        } else if (m.command === 'getaddr' && opts.addrs) {
          // addr: count, then per entry u32 time, u64 services, 16-byte IPv4-mapped IP, u16 BE port.
          const out = Buffer.alloc(1 + 30 * opts.addrs.length);
          out[0] = opts.addrs.length;
          opts.addrs.forEach((a, i) => {
            const o = 1 + 30 * i;
            out.writeUInt32LE(Math.floor(Date.now() / 1000), o);
            out.writeUInt32LE(9, o + 4);
            out.writeUInt16BE(0xffff, o + 22);
            out.set(a.host.split('.').map(Number), o + 24);
            out.writeUInt16BE(a.port, o + 28);
          });
          send('addr', out);
        } else if (m.command === 'getheaders') {
          if (opts.stall) continue;
          if (opts.lie === 'garbage') {
            s.write(Buffer.from('this is not a bitcoin message at all, not even close'));
            continue;
          }
          const { locator } = decodeGetHeaders(m.payload);
          let from = chain.first - 1;
          for (const h of locator) {
            const height = chain.heightOf(h);
            if (height !== undefined) {
              from = height;
              break;
            }
          }
          const run = chain.headers.slice(from + 1 - chain.first, from + 1 - chain.first + 2000);
          if (opts.lie === 'bad-pow') run[5] = breakPow(run[5]);
          if (opts.lie === 'disconnected') run.splice(5, 1);
          send('headers', encodeHeaders(opts.lie === 'not-after-locator' ? run.slice(100) : run));
        }
      }
    });
  });
  await new Promise<void>((r) => server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => r()));
  state.port = (server.address() as AddressInfo).port;
  return state;
}
