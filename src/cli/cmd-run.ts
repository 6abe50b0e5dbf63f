// `altnet run`: the daemon. Reads altnet.conf (or --conf=FILE) and -key=value flags,
// starts the gateway, and stops it cleanly on SIGINT/SIGTERM.
import { networkByName } from '../chain/networks.js';
import { Gateway, type GatewayOptions } from '../gateway/gateway.js';
import type { GatewayMode } from '../gateway/router.js';
import { AltnetError } from '../util/errors.js';
import { linkTypeTakes } from '../links/registry.js';
import { createLogger, type Logger } from '../util/log.js';
import { Bip324Proxy } from '../proxy/proxy.js';
import { formatHostPort, loadConfig, optionsHelp, type Config } from './config.js';
import type { CliIO } from './io.js';
import { flag, parseCommand, type CommandSpec } from './args.js';
import { ALTNET_VERSION } from '../util/version.js';

/** A link's options with the global settings that apply to it filled in. */
function linkOptions(options: Record<string, string>, config: Config, mode: GatewayMode): Record<string, string> {
  const out = { ...options };
  // The operator's callsign applies to every amateur link that does not set its own.
  // (the link types whose option table has a `callsign` key: see src/links/registry.ts).
  if (config.callsign && !out.callsign && linkTypeTakes(out.type, 'callsign')) out.callsign = config.callsign;
  // Receive-only is enforced in the driver too (types with a `direction` key), so not even a
  // header request goes on the air.
  if (mode === 'receive-only' && linkTypeTakes(out.type, 'direction')) out.direction = 'rx';
  return out;
}

export function gatewayOptionsFromConfig(config: Config, log: Logger, forcedMode?: GatewayMode): GatewayOptions {
  const mode: GatewayMode = forcedMode ?? (config.beacon ? 'beacon' : config.receiveonly ? 'receive-only' : 'gateway');
  return {
    network: networkByName(config.network),
    listen: { host: config.listen.host, port: config.listen.port },
    allowRemote: config.allowremote,
    datadir: config.datadir,
    mode,
    links: Object.entries(config.links).map(([name, options]) => ({ name, type: options.type, options: linkOptions(options, config, mode) })),
    log,
    staleProbability: config.stalewatchprob,
    metrics: config.metrics && { host: config.metrics.host, port: config.metrics.port },
    devicedir: config.devicedir,
    hotplugRescanMs: config.hotplugrescan,
    linkRestartMaxMs: config.linkrestartmax,
    maxLinkMessageBytes: config.maxlinkmsg,
    blockCacheBytes: config.blockcache * 1_000_000,
    txToNode: config.txtonode,
    nodeRpc: config.noderpc && { ...config.noderpc, cookieFile: config.noderpccookie },
    status: config.status && { host: config.status.host, port: config.status.port },
    alertNotify: config.alertnotify,
    alertWebhook: config.alertwebhook,
    alertClearHoldMs: config.alertclearhold,
    heartbeatMs: config.heartbeat,
  };
}

const RUN_USAGE = `usage: altnet run [--conf=FILE] [-key=value ...] [--receive-only]

Runs the gateway daemon: listens for the node's P2P connection (addnode=127.0.0.1:8334),
keeps a validated header chain, watches for eclipse anomalies, and runs every configured link.
  --receive-only   never transmit on any link (same as -receiveonly=1)
`;

const BEACON_USAGE = `usage: altnet beacon [--conf=FILE] [-key=value ...]

Runs the daemon as a broadcast-only transmitter: it repeats the latest headers on its transmit
links (a carousel of aligned 16-header batches reaching a day deep, plus every new tip at once),
within each link's duty cycle, for receive-only gateways to hear. Same options as \`altnet run\`.
`;

export async function runDaemon(args: string[], io: CliIO, forcedMode?: GatewayMode): Promise<number> {
  const usage = (forcedMode === 'beacon' ? BEACON_USAGE : RUN_USAGE) + '\n' + optionsHelp();
  const spec: CommandSpec = {
    name: forcedMode === 'beacon' ? 'beacon' : 'run',
    options: forcedMode === 'beacon' ? [] : [{ name: 'receive-only', type: 'bool' }],
    configFlags: true,
  };
  const parsed = parseCommand(args, spec, usage, io, ALTNET_VERSION);
  if (typeof parsed === 'number') return parsed;
  if (parsed.positional.length) {
    io.err(`altnet ${spec.name}: unexpected argument "${parsed.positional[0]}"; options are written -key=value`);
    return 2;
  }
  const receiveOnly = flag(parsed, 'receive-only');
  let config: Config;
  try {
    config = loadConfig(parsed.configArgs, io);
  } catch (err) {
    io.err(`altnet: ${err instanceof Error ? err.message : String(err)}`);
    return 2;
  }
  const log = createLogger({ level: config.loglevel, json: config.logjson });
  const mode = forcedMode ?? (receiveOnly ? 'receive-only' : undefined);
  let gateway: Gateway;
  try {
    gateway = await Gateway.start(gatewayOptionsFromConfig(config, log, mode));
  } catch (err) {
    const code = err instanceof AltnetError ? ` (${err.code})` : '';
    io.err(`altnet: cannot start${code}: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
  let proxy: Bip324Proxy | undefined;
  if (config.bip324proxy) {
    const opts = { listen: config.bip324proxy, upstream: config.proxy, allowV1: config.allowv1, log: log.child('bip324proxy') };
    proxy = new Bip324Proxy({ ...opts, counters: gateway.counters.scoped('bip324proxy.') });
    try {
      await proxy.listen();
    } catch (err) {
      io.err(`altnet: cannot start the BIP324 proxy on ${formatHostPort(config.bip324proxy)}: ${(err as Error).message}`);
      await gateway.stop();
      return 1;
    }
  }
  log.info('ready', { node: `${config.listen.host}:${gateway.nodePort}`, datadir: config.datadir, conf: config.confFile });
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      log.info('stopping', { signal: sig });
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  await proxy?.close();
  await gateway.stop();
  return 0;
}

export function run(args: string[], io: CliIO): Promise<number> {
  return runDaemon(args, io);
}
