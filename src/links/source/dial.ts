// How an internet source opens its TCP connection: directly, or through a SOCKS5 proxy (Tor)
// with the `socks` package, which hands the proxy the destination's name unresolved (SOCKS5
// DOMAINNAME), so the link does no DNS lookup of its own and leaks no name to the local
// resolver. `proxyAgent` does the same for Esplora's HTTP(S) requests (TLS is layered over the
// proxied socket, with the name as SNI). The SOCKS protocol itself is the `socks` package's,
// loaded only when a proxy is set, and node:tls, node:http and node:https are loaded only by the
// links that use them (p2p never does; electrum only with tls=1): a driver process pays for each
// module it loads, measured (npm run bench -- memory, issue 18) at 1.8 MB PSS for node:tls,
// 0.6 MB for node:http and about 5 MB for socks.
import type http from 'node:http';
import type https from 'node:https';
import net from 'node:net';
import type tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { HostPort } from '../../util/net.js';
import { formatHostPort, parseHostPort } from '../../util/net.js';
import type { LinkOptions } from '../options.js';

export interface DialOptions {
  host: string;
  port: number;
  /** SOCKS5 proxy; undefined: connect directly. */
  proxy?: HostPort;
  timeoutMs: number;
}

// process.getBuiltinModule (Node 20.16+), not createRequire: node:module brings Node's ESM
// loader internals with it, 64-72 kB of anonymous memory in each source driver process
// (measured in a jitless Node with net and crypto loaded; issue 18).
/** node:tls, loaded on first use. */
export const loadTls = (): typeof tls => process.getBuiltinModule('node:tls');
/** node:https or node:http, loaded on first use. */
export const loadHttp = (secure: boolean): typeof http | typeof https =>
  secure ? process.getBuiltinModule('node:https') : process.getBuiltinModule('node:http');

/** A connected TCP socket to host:port, through the proxy when one is given. */
export async function dialTcp(d: DialOptions): Promise<net.Socket> {
  if (d.proxy) {
    try {
      const { SocksClient } = await import('socks');
      const { socket } = await SocksClient.createConnection({
        proxy: { host: d.proxy.host, port: d.proxy.port, type: 5 },
        command: 'connect',
        destination: { host: d.host, port: d.port },
        timeout: d.timeoutMs,
      });
      return socket;
    } catch (e) {
      throw new Error(`through SOCKS5 proxy ${formatHostPort(d.proxy)}: ${(e as Error).message}`, { cause: e });
    }
  }
  return new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect({ host: d.host, port: d.port });
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error('connect timed out'));
    }, d.timeoutMs);
    s.once('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
    s.once('connect', () => {
      clearTimeout(t);
      s.removeAllListeners('error');
      resolve(s);
    });
  });
}

/** An HTTP(S) agent whose connections go through the SOCKS5 proxy (keep-alive, at most 4 sockets). */
export function proxyAgent(proxy: HostPort, opts: { https: boolean; ca?: string | Buffer; timeoutMs: number }): http.Agent {
  const connect = (o: http.ClientRequestArgs, cb: (err: Error | null, s?: Duplex) => void): undefined => {
    const host = String(o.hostname ?? o.host ?? '').replace(/^\[|\]$/g, '');
    const port = Number(o.port ?? (opts.https ? 443 : 80));
    dialTcp({ host, port, proxy, timeoutMs: opts.timeoutMs }).then(
      (socket) => {
        if (!opts.https) return cb(null, socket);
        const t = loadTls().connect({ socket, servername: net.isIP(host) ? undefined : host, ca: opts.ca, ALPNProtocols: ['http/1.1'] });
        t.once('secureConnect', () => cb(null, t));
        t.once('error', (e) => cb(e));
      },
      (e: Error) => cb(e),
    );
    return undefined;
  };
  const agent = opts.https
    ? new (loadHttp(true) as typeof https).Agent({ keepAlive: true, maxSockets: 4, ca: opts.ca })
    : new (loadHttp(false) as typeof http).Agent({ keepAlive: true, maxSockets: 4 });
  (agent as unknown as { createConnection: typeof connect }).createConnection = connect;
  return agent;
}

/** The `proxy` option every internet source takes (filled in from the global proxy= by the daemon). */
export function readProxyOption(o: LinkOptions): HostPort | undefined {
  if (!o.has('proxy')) return undefined;
  const v = o.must<string>('proxy');
  if (v === 'off') return undefined;
  try {
    return parseHostPort(v);
  } catch (e) {
    throw o.error('proxy', (e as Error).message);
  }
}
