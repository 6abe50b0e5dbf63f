// `altnet run`: the daemon. Reads altnet.conf (or --conf=FILE) and -key=value flags,
// starts the gateway, and stops it cleanly on SIGINT/SIGTERM.
import { networkByName } from '../chain/networks.js';
import { Gateway, type GatewayOptions } from '../gateway/gateway.js';
import type { GatewayMode } from '../gateway/router.js';
import { AltnetError } from '../util/errors.js';
import { existsSync, fstatSync } from 'node:fs';
import { loadBoardProfiles } from '../links/boards.js';
import { checkLinks, effectiveOptions, type LinkCheckResult } from './link-check.js';
import { createLogger, journalStream, type Logger } from '../util/log.js';
import type { Bip324Proxy } from '../proxy/proxy.js';
import {
  formatHostPort,
  loadConfig,
  withDefaultLinks,
  OPTIONS,
  optionsHelp,
  type Config,
  type HostPort,
  type ValueSource,
} from './config.js';
import type { CliIO } from './io.js';
import { flag, parseCommand, type CommandSpec } from './args.js';
import { ALTNET_VERSION } from '../util/version.js';

/** The gateway's mode: a forced one (beacon command, --receive-only), else the config's. */
export function effectiveMode(config: Config, forcedMode?: GatewayMode): GatewayMode {
  return forcedMode ?? (config.beacon ? 'beacon' : config.receiveonly ? 'receive-only' : 'gateway');
}

export function gatewayOptionsFromConfig(config: Config, log: Logger, forcedMode?: GatewayMode): GatewayOptions {
  const mode = effectiveMode(config, forcedMode);
  return {
    network: networkByName(config.network),
    listen: { host: config.listen.host, port: config.listen.port },
    allowRemote: config.allowremote,
    datadir: config.datadir,
    mode,
    links: Object.entries(config.links).map(([name, options]) => ({
      name,
      type: options.type,
      options: effectiveOptions(options, config, mode, name),
    })),
    log,
    staleProbability: config.stalewatchprob,
    metrics: config.metrics && { host: config.metrics.host, port: config.metrics.port },
    devicedir: config.devicedir,
    hotplugRescanMs: config.hotplugrescan,
    nodeWaitMs: config.nodewait,
    linkRestartMaxMs: config.linkrestartmax,
    maxLinkMessageBytes: config.maxlinkmsg,
    maxLinks: config.maxlinks,
    linkHeapMb: config.linkheap,
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

const RUN_USAGE = `usage: altnet run [--conf=FILE] [-key=value ...] [--receive-only] [--check [--json]]

Runs the gateway daemon: listens for the node's P2P connection (addnode=127.0.0.1:8334),
keeps a validated header chain, watches for eclipse anomalies, and runs every configured link.
Every option and every link key is checked first; any mistake stops it with the file and line.
  --receive-only   never transmit on any link (same as -receiveonly=1); amateur links then
                   need no callsign
  --check          check the configuration, print it as resolved (every option with where it
                   came from) and the links it would run, and exit; opens nothing
  --json           with --check: the same as JSON
\`altnet help links\` lists every link type's keys.
`;

const BEACON_USAGE = `usage: altnet beacon [--conf=FILE] [-key=value ...]

Runs the daemon as a broadcast-only transmitter: it repeats the latest headers on its transmit
links (a carousel of aligned 16-header batches reaching a day deep, plus every new tip at once),
within each link's duty cycle, for receive-only gateways to hear. Same options as \`altnet run\`.
`;

export async function runDaemon(args: string[], io: CliIO, forcedMode?: GatewayMode): Promise<number> {
  // Under systemd, what goes to stderr goes to the journal: refusals there are errors (<3>).
  const journal = journalStream(io.env, () => {
    try {
      return fstatSync(2);
    } catch {
      return undefined;
    }
  });
  if (journal) {
    const plain = io;
    io = {
      ...plain,
      err: (l) =>
        plain.err(
          l
            .split('\n')
            .map((x) => `<3>${x}`)
            .join('\n'),
        ),
    };
  }
  const usage = (forcedMode === 'beacon' ? BEACON_USAGE : RUN_USAGE) + '\n' + optionsHelp();
  const spec: CommandSpec = {
    name: forcedMode === 'beacon' ? 'beacon' : 'run',
    options: [
      ...(forcedMode === 'beacon' ? [] : [{ name: 'receive-only', type: 'bool' as const }]),
      { name: 'check', type: 'bool' },
      { name: 'json', type: 'bool' },
    ],
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
    config = withDefaultLinks(loadConfig(parsed.configArgs, io));
  } catch (err) {
    io.err(`altnet: ${err instanceof Error ? err.message : String(err)}`);
    return 2;
  }
  const mode = effectiveMode(config, forcedMode ?? (receiveOnly ? 'receive-only' : undefined));
  let checked: LinkCheckResult;
  try {
    checked = checkLinks(config, mode, { profiles: () => loadBoardProfiles(), exists: existsSync });
  } catch (err) {
    io.err(`altnet: cannot check the links: ${(err as Error).message}`);
    return 2;
  }
  if (flag(parsed, 'check')) return printCheck(config, mode, checked, flag(parsed, 'json'), io);
  if (checked.errors.length) {
    for (const e of checked.errors) io.err(`altnet: ${e.message}`);
    io.err(
      `altnet: ${checked.errors.length} problem${checked.errors.length > 1 ? 's' : ''} in the configuration; nothing started. \`altnet help links\` lists every link type's keys.`,
    );
    return 2;
  }
  const log = createLogger({ level: config.loglevel, json: config.logjson, journal });
  if (config.defaultsNote) (checked.links.length ? log.info : log.warn).call(log, config.defaultsNote);
  for (const w of checked.warnings) log.warn(w);
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
    // Loaded only when asked for (bip324proxy=): the proxy, its SOCKS5 server and dialer.
    const { Bip324Proxy } = await import('../proxy/proxy.js');
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

function describeSource(src: ValueSource | undefined): string {
  if (!src) return 'default';
  if (src.line === 0) return src.file;
  return src.file === 'command line' ? 'command line' : `${src.file}:${src.line}`;
}

function showValue(v: unknown): string {
  if (v === undefined) return '(off)';
  if (typeof v === 'boolean') return v ? '1' : '0';
  if (typeof v === 'object' && v !== null && 'host' in v && 'port' in v) return formatHostPort(v as HostPort);
  return String(v);
}

/** Who a built-in default link reaches and what they learn; {} for the user's own links. */
function builtinOf(config: Config, name: string): { reaches?: string; learns?: string } {
  const b = config.linkConfigs.find((l) => l.name === name)?.builtin;
  return b ? { reaches: b.reaches, learns: b.learns } : {};
}

/** `altnet run --check`: the configuration as the daemon would use it, and its links. Opens nothing. */
function printCheck(config: Config, mode: GatewayMode, checked: LinkCheckResult, json: boolean, io: CliIO): number {
  const ok = checked.errors.length === 0;
  const values = Object.fromEntries(OPTIONS.map((o) => [o.name, (config as unknown as Record<string, unknown>)[o.name]]));
  if (json) {
    io.out(
      JSON.stringify(
        {
          ok,
          conf: config.confFile ?? null,
          mode,
          options: Object.fromEntries(
            OPTIONS.map((o) => [o.name, { value: showValue(values[o.name]), source: describeSource(config.sources[o.name]) }]),
          ),
          defaults: config.defaultsNote ?? null,
          links: checked.links.map((l) => ({ ...l, source: describeSource(l.source), ...builtinOf(config, l.name) })),
          warnings: checked.warnings,
          errors: checked.errors.map((e) => ({ code: e.code, file: e.file, line: e.line, message: e.message })),
        },
        null,
        2,
      ),
    );
    return ok ? 0 : 2;
  }
  io.out(`config: ${config.confFile ?? '(none)'}`);
  io.out(`mode:   ${mode}`);
  io.out('');
  io.out('options (value, and where it was set):');
  const width = Math.max(...OPTIONS.map((o) => o.name.length));
  for (const o of OPTIONS) {
    const v = values[o.name];
    const shown = o.type === 'duration' && typeof v === 'number' ? `${v}ms` : showValue(v);
    io.out(`  ${o.name.padEnd(width)}  ${shown.padEnd(24)} ${describeSource(config.sources[o.name])}`);
  }
  io.out('');
  if (config.defaultsNote) io.out(`defaults: ${config.defaultsNote}`);
  io.out(checked.links.length ? `links (${checked.links.length}):` : 'links: none configured');
  for (const l of checked.links) {
    const keys = Object.entries(l.options)
      .filter(([k]) => k !== 'type')
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    const dev = l.device
      ? l.device.present
        ? ''
        : l.device.hotplug
          ? '  [device not plugged in: opens when it is]'
          : '  [device missing]'
      : '';
    io.out(`  ${l.name.padEnd(12)} ${l.type.padEnd(9)} ${l.direction.padEnd(6)} ${keys}${dev}  (${describeSource(l.source)})`);
    const b = builtinOf(config, l.name);
    if (b.reaches) io.out(`               reaches: ${b.reaches}\n               learns:  ${b.learns}`);
  }
  for (const w of checked.warnings) io.out(`warning: ${w}`);
  if (!ok) {
    io.out('');
    for (const e of checked.errors) io.out(`error: ${e.message}`);
    io.out(`${checked.errors.length} problem${checked.errors.length > 1 ? 's' : ''}: the daemon would refuse to start.`);
    return 2;
  }
  io.out('');
  io.out(`ok: the daemon would start with ${checked.links.length} link${checked.links.length === 1 ? '' : 's'}.`);
  return 0;
}
