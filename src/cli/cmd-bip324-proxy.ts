// `altnet bip324-proxy`: runs only the BIP324 proxy (src/proxy/) in the foreground. Reads
// altnet.conf like `altnet run` (bip324proxy=, proxy=, allowv1= apply), plus -to=host:port.
import { Bip324Proxy } from '../proxy/proxy.js';
import { Counters } from '../util/counters.js';
import { ConfigError } from '../util/errors.js';
import { ALTNET_VERSION } from '../util/version.js';
import { parseCommand, str, type CommandSpec } from './args.js';
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

const SPEC: CommandSpec = { name: 'bip324-proxy', options: [{ name: 'to', type: 'string' }], configFlags: true };

export async function run(args: string[], io: CliIO): Promise<number> {
  const parsed = parseCommand(args, SPEC, USAGE, io, ALTNET_VERSION);
  if (typeof parsed === 'number') return parsed;
  let to: HostPort | undefined;
  let config: Config;
  try {
    const toText = str(parsed, 'to');
    if (toText !== undefined) {
      try {
        to = parseHostPort(toText);
      } catch (err) {
        throw new ConfigError('cli-bad-value', `altnet bip324-proxy: --to=${toText}: ${(err as Error).message}`);
      }
    }
    if (parsed.positional.length)
      throw new ConfigError('cli-bad-option', `altnet bip324-proxy: unexpected argument "${parsed.positional[0]}"`);
    config = loadConfig(parsed.configArgs, io);
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
