// `altnet bip324-proxy`: runs only the BIP324 proxy (src/proxy/) in the foreground. Reads
// altnet.conf like `altnet run` (bip324proxy=, proxy=, allowv1= apply), plus -to=host:port.
import { Bip324Proxy } from '../proxy/proxy.js';
import { Counters } from '../util/counters.js';
import { AltnetError } from '../util/errors.js';
import { createLogger } from '../util/log.js';
import { formatHostPort, loadConfig, parseHostPort, type Config, type HostPort } from './config.js';
import type { CliIO } from './io.js';

const DEFAULT_LISTEN: HostPort = { host: '127.0.0.1', port: 1324 };

const USAGE = `usage: altnet bip324-proxy [-bip324proxy=127.0.0.1:1324] [-to=host:port] [-proxy=host:port] [-allowv1=1] [--conf=FILE]

Gives software that only speaks the v1 P2P transport encrypted BIP324 v2 connections.
Clients reach it as a SOCKS5 proxy (bitcoind -v2transport=0 -proxy=127.0.0.1:1324) or as a
plain v1 peer (bitcoind -connect=127.0.0.1:1324 with -to=, or a client that puts the real
destination in its version message). The network comes from the client's v1 magic.

  -bip324proxy=<host:port>  where to listen (default 127.0.0.1:1324; loopback only)
  -to=<host:port>           destination for plain v1 clients (SOCKS5 clients name their own)
  -proxy=<host:port>        reach destinations through this SOCKS5 proxy (Tor: 127.0.0.1:9050)
  -allowv1=1                forward unencrypted v1 to destinations without v2 (default: refuse)
`;

export async function run(args: string[], io: CliIO): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    io.out(USAGE);
    return 0;
  }
  let to: HostPort | undefined;
  let config: Config;
  try {
    const rest: string[] = [];
    for (const a of args) {
      const m = /^--?to=(.*)$/s.exec(a);
      if (!m) rest.push(a);
      else {
        try {
          to = parseHostPort(m[1]);
        } catch (err) {
          throw new AltnetError('config-bad-value', `-to=${m[1]}: ${(err as Error).message}`);
        }
      }
    }
    config = loadConfig(rest, io);
  } catch (err) {
    io.err(`altnet: ${err instanceof Error ? err.message : String(err)}`);
    return 2;
  }
  const log = createLogger({ level: config.loglevel, json: config.logjson }).child('bip324proxy');
  const counters = new Counters();
  const proxy = new Bip324Proxy({
    listen: config.bip324proxy ?? DEFAULT_LISTEN,
    to,
    upstream: config.proxy,
    allowV1: config.allowv1,
    log,
    counters,
  });
  try {
    await proxy.listen();
  } catch (err) {
    const listen = formatHostPort(config.bip324proxy ?? DEFAULT_LISTEN);
    io.err(`altnet: cannot listen on ${listen}: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await proxy.close();
  log.info('stopped', counters.snapshot());
  return 0;
}
