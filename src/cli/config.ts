// altnet.conf: one key=value file in the style of bitcoin.conf, plus `-key=value` flags that
// override it. Every option is declared once in OPTIONS; parsing, validation, defaults and the
// `--help` text all come from that table, so they cannot drift apart.
//
// File syntax:
//   # comment                 (a `#` starts a comment anywhere outside a value's quotes)
//   key=value                 (spaces around `=` are allowed; keys are case-insensitive)
//   [regtest]                 (what follows applies only when network=regtest)
//   regtest.key=value         (same thing, one line)
//   link.<name>.<key>=value   (one radio or internet link; its driver checks its own keys)
// Flags: `-key=value`, `--key=value`, `-key` (bool true), `-nokey` (bool false), `--conf=path`.
import { NETWORK_NAMES, type NetworkName } from '../chain/networks.js';
import { formatHostPort, isLoopback, parseHostPort, type HostPort } from '../util/net.js';
import { LINK_TYPES, linkServer } from '../links/registry.js';
import { chooseDefaultLinks } from '../links/defaults.js';
import { existsSync, readFileSync } from 'node:fs';
import * as pathPosix from 'node:path/posix';
import { ConfigError } from '../util/errors.js';
import type { LogLevel } from '../util/log.js';
import type { CliIO } from './io.js';
import { closest } from '../util/suggest.js';
import { compareNames } from '../util/order.js';
import { wrap } from '../util/wrap.js';

export type OptionType = 'string' | 'int' | 'number' | 'bool' | 'hostport' | 'path' | 'enum' | 'duration';

export { formatHostPort, parseHostPort, type HostPort };

export interface OptionSpec {
  name: string;
  type: OptionType;
  /** Value when neither the file nor a flag sets it; undefined: the option is off/absent. */
  default?: string;
  help: string;
  /** enum: the allowed values. */
  values?: readonly string[];
  /** int, number, duration (in ms): inclusive bounds. */
  min?: number;
  max?: number;
  /** hostport: only loopback addresses are accepted (see allowremote for `listen`). */
  loopbackOnly?: boolean;
  /** hostport: the words that mean "disabled" (the option then reads as undefined). */
  offWords?: readonly string[];
  /** string: a pattern the value must match, and what to tell the user when it does not. */
  pattern?: RegExp;
  patternHint?: string;
  /** string: stored upper-case (callsigns go on air in capitals). */
  upperCase?: boolean;
  /** Only meaningful at top level: network sections cannot change it (like bitcoind's chain). */
  topLevelOnly?: boolean;
  /** Placeholder shown in help, e.g. <host:port>. */
  meta?: string;
}

export { NETWORK_NAMES, type NetworkName };

/** Link types are the registry's (src/links/registry.ts); re-exported for the CLI's callers. */
export { LINK_TYPES };

export const OPTIONS: readonly OptionSpec[] = [
  {
    name: 'network',
    type: 'enum',
    values: NETWORK_NAMES,
    default: 'main',
    topLevelOnly: true,
    help: 'Which chain the node follows. Options in a [network] section apply only to that chain.',
  },
  {
    name: 'listen',
    type: 'hostport',
    default: '127.0.0.1:8334',
    loopbackOnly: true,
    help: 'Address of the Bitcoin P2P peer server the node connects to (bitcoin.conf: addnode=127.0.0.1:8334). Loopback only unless allowremote=1.',
  },
  {
    name: 'allowremote',
    type: 'bool',
    default: '0',
    help: 'Allow `listen` on a non-loopback address. Only do this behind a firewall you control.',
  },
  {
    name: 'datadir',
    type: 'path',
    help: 'Where headers, pending transactions and state are kept. Default: $ALTNET_DATADIR, else $STATE_DIRECTORY (set by systemd), else /var/lib/altnet when it exists (the installed service), else ~/.altnet.',
  },
  {
    name: 'devicedir',
    type: 'path',
    default: '/dev/altnet',
    help: 'Directory the udev rules put stable device names in; watched for radios being plugged in and out.',
  },
  {
    name: 'loglevel',
    type: 'enum',
    values: ['debug', 'info', 'warn', 'error'],
    default: 'info',
    help: 'Least severe log level written.',
  },
  { name: 'logjson', type: 'bool', default: '0', help: 'Write logs as JSON lines instead of text.' },
  {
    name: 'metrics',
    type: 'hostport',
    default: 'off',
    loopbackOnly: true,
    offWords: ['off', '0', 'no', 'false', ''],
    help: 'Serve Prometheus metrics at http://<host:port>/metrics (loopback only), or off.',
  },
  {
    name: 'status',
    type: 'hostport',
    default: 'off',
    loopbackOnly: true,
    offWords: ['off', '0', 'no', 'false', ''],
    help: 'Serve a read-only status page at http://<host:port>/ and the same data at /status.json (loopback only), or off. The same address as metrics= serves both.',
  },
  {
    name: 'alertnotify',
    type: 'string',
    meta: '<cmd>',
    help: "Run this shell command when an anomaly starts and when it clears (%s in cmd is replaced by a one-line message, sanitized and single-quoted, as bitcoind's -alertnotify).",
  },
  {
    name: 'alertwebhook',
    type: 'string',
    meta: '<url>',
    pattern: /^https?:\/\/[^\s]+$/i,
    patternHint: 'an http:// or https:// URL',
    help: 'POST each anomaly start and end as JSON to this URL.',
  },
  {
    name: 'alertclearhold',
    type: 'duration',
    default: '2m',
    min: 0,
    max: 24 * 3600_000,
    help: 'An anomaly must stay clear this long before its end is notified; if it comes back sooner, nothing is sent (no flapping alerts).',
  },
  {
    name: 'heartbeat',
    type: 'duration',
    default: '10m',
    min: 0,
    max: 24 * 3600_000,
    help: 'A beacon repeats its tip at least this often; a receiver raises link-silent when a radio link hears nothing for 3 heartbeats. 0 turns both off.',
  },
  { name: 'receiveonly', type: 'bool', default: '0', help: 'Never transmit on any link, only listen.' },
  {
    name: 'beacon',
    type: 'bool',
    default: '0',
    help: "Broadcast the node's new headers on transmit-capable links.",
  },
  {
    name: 'txtonode',
    type: 'bool',
    default: '1',
    help: 'Also hand transactions from `altnet send-tx` to the local node. Bitcoin Core never announces a transaction back to the peer that gave it, so with 1 a transaction counts as seen only if it reaches the node by another route first; with 0 it goes over the links only and the node announcing it proves the network has it.',
  },
  {
    name: 'stalewatchprob',
    type: 'number',
    default: '1e-4',
    min: 1e-12,
    max: 0.5,
    help: "Raise an anomaly when a silence as long as the node's current one has lower probability than this.",
  },
  {
    name: 'callsign',
    type: 'string',
    pattern: /^[A-Za-z0-9]{1,3}[0-9][A-Za-z0-9]{0,4}(-(?:[0-9]|1[0-5]))?$/,
    patternHint: 'an amateur-radio callsign such as DL1ABC or N0CALL-7 (SSID 0-15)',
    upperCase: true,
    help: 'Operator callsign, sent with every amateur-radio transmission. Transmit on amateur links refuses to start without it.',
  },
  {
    name: 'noderpc',
    type: 'hostport',
    loopbackOnly: true,
    offWords: ['off', ''],
    help: "Bitcoin Core's RPC address (optional; for status and for checking the node's peers). Needed to rescue a node an attacker moved onto a fork: Core keeps an unrequested block only if it has at least as much work as its active tip, so the honest blocks below the attacker tip's work must be handed over with submitblock over RPC; without noderpc such a rescue stops and says why.",
  },
  {
    name: 'noderpccookie',
    type: 'path',
    meta: '<file>',
    help: "Path of the node's RPC .cookie file (used with noderpc).",
  },
  {
    name: 'bip324proxy',
    type: 'hostport',
    default: 'off',
    loopbackOnly: true,
    offWords: ['off', '0', 'no', 'false', ''],
    help: 'Also run the BIP324 proxy here (e.g. 127.0.0.1:1324): v1-only software (bitcoind -v2transport=0 -proxy=<host:port>, wallets) gets encrypted v2 connections. Loopback only, or off.',
  },
  {
    name: 'allowv1',
    type: 'bool',
    default: '0',
    help: 'Let the BIP324 proxy forward unencrypted v1 when a destination does not speak v2 (default: it refuses).',
  },
  {
    name: 'proxy',
    type: 'hostport',
    default: 'off',
    offWords: ['off', '0', 'no', 'false', ''],
    help: "SOCKS5 proxy (e.g. Tor's 127.0.0.1:9050) for every internet link (p2p, peers, esplora, electrum; link.<name>.proxy=off opts one out) and the BIP324 proxy's outbound connections; names are resolved by the proxy, never looked up here. The default sources then use onion endpoints, random peers ask seed nodes through the proxy instead of DNS and may use onion peers; a dns link is refused (it would leak).",
  },
  {
    name: 'onlynet',
    type: 'enum',
    values: ['any', 'onion'],
    default: 'any',
    help: 'onion: internet links may only reach .onion destinations through proxy= (like bitcoind -onlynet=onion): random peers use only onion peers; a link to any other host, or without the proxy, is refused at start-up.',
  },
  {
    name: 'defaults',
    type: 'bool',
    help: 'The built-in public sources of the network (src/links/defaults.ts; the README says what each learns about you): used when no link is configured unless defaults=0; defaults=1 adds them to your links. Under proxy= the onion endpoints are used and headers over DNS is left out.',
  },
  {
    name: 'blockcache',
    type: 'int',
    default: '300',
    min: 10,
    max: 1_000_000,
    meta: '<MB>',
    help: 'Size of the on-disk store of verified blocks for rescues, in MB (pruned oldest first).',
  },
  {
    name: 'maxlinkmsg',
    type: 'int',
    // One 4,000,000-byte block plus its IPC envelope (hash, field names).
    default: '4065536',
    min: 1024,
    max: 32_000_000,
    meta: '<bytes>',
    help: 'Largest message a link driver may hand to the main process; larger ones are dropped and counted.',
  },
  {
    name: 'maxlinks',
    type: 'int',
    default: '16',
    min: 1,
    max: 64,
    help: 'Most links the daemon runs (each is a process of its own); a config with more is refused at start-up.',
  },
  {
    name: 'linkheap',
    type: 'int',
    default: '96',
    min: 16,
    max: 4096,
    meta: '<MB>',
    help: 'JavaScript heap limit of each link process (node --max-old-space-size), in MB; a driver that outgrows it is restarted, the daemon is not.',
  },
  {
    name: 'linkrestartmax',
    type: 'duration',
    default: '5m',
    min: 1000,
    max: 24 * 3600_000,
    help: 'Longest wait between restarts of a link driver that keeps failing (backoff cap).',
  },
  {
    name: 'nodewait',
    type: 'duration',
    default: '10m',
    min: 0,
    max: 7 * 86_400_000,
    help: "Warn, and raise the anomaly node-not-connected, when no Bitcoin node has been connected for this long (at start and after the node goes); 0: never. The warning quotes the address to put in bitcoin.conf's addnode=.",
  },
  {
    name: 'hotplugrescan',
    type: 'duration',
    default: '5s',
    min: 100,
    max: 3600_000,
    help: 'How often devicedir is re-scanned in case a filesystem notification was missed.',
  },
];

const OPTION_BY_NAME = new Map(OPTIONS.map((o) => [o.name, o]));

/** Where a value came from, so later checks (a driver rejecting a link key) can point at it. */
export interface ValueSource {
  file: string;
  /** 1-based line in `file`; for a command-line flag, its position in argv (1-based). */
  line: number;
}

export interface LinkConfig {
  name: string;
  /** One of LINK_TYPES. */
  type: string;
  /** Every `link.<name>.<key>` value, `type` included; the driver validates the rest. */
  keys: Record<string, string>;
  sources: Record<string, ValueSource>;
  /** A built-in default source (withDefaultLinks): who it reaches and what they learn. */
  builtin?: { reaches: string; learns: string };
}

export interface Config {
  network: NetworkName;
  listen: HostPort;
  allowremote: boolean;
  datadir: string;
  devicedir: string;
  loglevel: LogLevel;
  logjson: boolean;
  metrics: HostPort | undefined;
  status: HostPort | undefined;
  alertnotify: string | undefined;
  alertwebhook: string | undefined;
  /** Milliseconds. */
  alertclearhold: number;
  /** Milliseconds. */
  heartbeat: number;
  receiveonly: boolean;
  beacon: boolean;
  txtonode: boolean;
  stalewatchprob: number;
  callsign: string | undefined;
  noderpc: HostPort | undefined;
  noderpccookie: string | undefined;
  bip324proxy: HostPort | undefined;
  allowv1: boolean;
  proxy: HostPort | undefined;
  onlynet: 'any' | 'onion';
  /** undefined: the defaults apply only when no link is configured. */
  defaults: boolean | undefined;
  /** Set by withDefaultLinks: what it added and why, or why nothing (one log line). */
  defaultsNote?: string;
  maxlinkmsg: number;
  blockcache: number;
  maxlinks: number;
  /** MB. */
  linkheap: number;
  /** Milliseconds. */
  linkrestartmax: number;
  /** Milliseconds. */
  hotplugrescan: number;
  /** Milliseconds; 0 never. */
  nodewait: number;
  /** `link.<name>.<key>=value` grouped by link name (string values; drivers parse their own). */
  links: Record<string, Record<string, string>>;
  /** The same links with their type checked and where each key was set. */
  linkConfigs: LinkConfig[];
  /** The config file read, if any. */
  confFile: string | undefined;
  /** Where each option that was set explicitly came from. */
  sources: Record<string, ValueSource>;
}

/** A config error that knows the file and line it is about. */
export class ConfigLineError extends ConfigError {
  constructor(
    code: string,
    readonly file: string,
    readonly line: number,
    problem: string,
  ) {
    super(code, `${file}:${line}: ${problem}`);
  }
}

export interface ParseOptions {
  /** Command-line flags (`-key=value`), applied over the file. */
  flags?: readonly string[];
  /** Used for defaults only: HOME, STATE_DIRECTORY, ALTNET_DATADIR. */
  env?: Record<string, string | undefined>;
  /** The installed service's datadir, when it exists on this machine (the default after the env). */
  serviceDatadir?: string;
  /** Base for relative paths given as flags; relative paths in the file resolve against its directory. */
  cwd?: string;
}

interface RawEntry {
  key: string;
  value: string;
  section: string | undefined;
  source: ValueSource;
  fromFlag: boolean;
}

const LINK_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;
const LINK_KEY_RE = /^[a-z][a-z0-9_]*$/;
const SECTION_NAMES: readonly string[] = NETWORK_NAMES;

/** Parses a config file's text (and optional flags) into a checked Config. No I/O. */
export function parseConfig(text: string, fileName: string, opts: ParseOptions = {}): Config {
  const entries = [...lexFile(text, fileName), ...lexFlags(opts.flags ?? [])];
  return buildConfig(entries, fileName === '' ? undefined : fileName, opts);
}

function lexFile(text: string, file: string): RawEntry[] {
  if (text.includes('\0')) {
    throw new ConfigLineError('config-syntax', file, 1, 'contains NUL bytes; is this really a text config file?');
  }
  const out: RawEntry[] = [];
  let section: string | undefined;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = stripComment(lines[i]).trim();
    if (line === '') continue;
    if (line.startsWith('[')) {
      const m = /^\[\s*([A-Za-z0-9]+)\s*\]$/.exec(line);
      if (!m) throw new ConfigLineError('config-syntax', file, lineNo, `bad section header "${line}"; write e.g. [regtest]`);
      const name = m[1].toLowerCase();
      if (name === 'test') {
        throw new ConfigLineError('config-bad-section', file, lineNo, 'section [test] (testnet3) is not supported; use [testnet4]');
      }
      if (!SECTION_NAMES.includes(name)) {
        throw new ConfigLineError(
          'config-bad-section',
          file,
          lineNo,
          `unknown section [${m[1]}]; sections are ${SECTION_NAMES.map((s) => `[${s}]`).join(', ')}`,
        );
      }
      section = name;
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0) {
      throw new ConfigLineError('config-syntax', file, lineNo, `expected key=value, got "${truncate(line)}"`);
    }
    const key = line.slice(0, eq).trim();
    const value = unquote(line.slice(eq + 1).trim());
    if (key === '') throw new ConfigLineError('config-syntax', file, lineNo, 'missing key before "="');
    out.push({ key, value, section, source: { file, line: lineNo }, fromFlag: false });
  }
  return out;
}

function stripComment(line: string): string {
  let quote = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '"') quote = !quote;
    else if (c === '#' && !quote) return line.slice(0, i);
  }
  return line;
}

function unquote(v: string): string {
  return v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v;
}

function truncate(s: string, n = 60): string {
  return s.length > n ? s.slice(0, n) + '…' : s;
}

const FLAGS_FILE = 'command line';

function lexFlags(flags: readonly string[]): RawEntry[] {
  const out: RawEntry[] = [];
  flags.forEach((arg, i) => {
    const source = { file: FLAGS_FILE, line: i + 1 };
    const m = /^--?([^=]+)(?:=(.*))?$/s.exec(arg);
    if (!m || m[1].startsWith('-')) {
      throw new ConfigLineError('config-bad-flag', FLAGS_FILE, i + 1, `"${arg}" is not an option; write -key=value`);
    }
    let key = m[1];
    let value = m[2];
    if (value === undefined) {
      // `-beacon` means beacon=1 and `-nobeacon` means beacon=0, as in bitcoind.
      const lower = key.toLowerCase();
      if (lower.startsWith('no') && OPTION_BY_NAME.get(lower.slice(2))?.type === 'bool') {
        key = key.slice(2);
        value = '0';
      } else if ((NETWORK_NAMES as readonly string[]).includes(lower) && lower !== 'main') {
        // bitcoind's -regtest / -testnet4 / -signet shorthands.
        [key, value] = ['network', lower];
      } else {
        value = '1';
      }
    }
    out.push({ key, value, section: undefined, source, fromFlag: true });
  });
  return out;
}

function buildConfig(entries: RawEntry[], confFile: string | undefined, opts: ParseOptions): Config {
  // Split `regtest.key` into section + key, and normalise case.
  const normalized = entries.map((e) => splitSectionPrefix(e));

  // First pass: the network (top level only), which decides which sections count.
  let network: NetworkName = 'main';
  for (const e of normalized) {
    if (e.key !== 'network') continue;
    if (e.section !== undefined) {
      throw lineError('config-bad-section', e, `"network" cannot be set inside [${e.section}]; set it at the top of the file`);
    }
    network = parseValue(OPTION_BY_NAME.get('network')!, e, opts) as NetworkName;
  }

  const chosen = new Map<string, RawEntry>();
  const seenInScope = new Map<string, RawEntry>();
  const linkEntries: RawEntry[] = [];
  for (const e of normalized) {
    const scopeKey = `${e.fromFlag ? 'flag' : 'file'}|${e.section ?? ''}|${e.key}`;
    const previous = seenInScope.get(scopeKey);
    if (previous && !e.fromFlag) {
      throw lineError('config-duplicate-key', e, `"${e.key}" is already set on line ${previous.source.line}; set it once`);
    }
    seenInScope.set(scopeKey, e);

    if (e.key.startsWith('link.')) {
      if (e.section === undefined || e.section === network) linkEntries.push(e);
      continue;
    }
    const spec = OPTION_BY_NAME.get(e.key);
    if (!spec) throw unknownKey(e);
    if (e.section !== undefined && e.section !== network) {
      parseValue(spec, e, opts); // still report bad values in other sections
      continue;
    }
    const current = chosen.get(e.key);
    // Precedence: flag > matching section > top level.
    if (!current || e.fromFlag || (!current.fromFlag && e.section !== undefined) || current.section === e.section) {
      chosen.set(e.key, e);
    }
  }

  const values: Record<string, unknown> = {};
  const sources: Record<string, ValueSource> = {};
  for (const spec of OPTIONS) {
    const e = chosen.get(spec.name);
    if (e) {
      values[spec.name] = parseValue(spec, e, opts);
      sources[spec.name] = e.source;
    } else {
      values[spec.name] =
        spec.default === undefined
          ? undefined
          : parseValue(
              spec,
              { key: spec.name, value: spec.default, section: undefined, source: { file: 'default', line: 0 }, fromFlag: true },
              opts,
            );
    }
  }
  values.network = network;

  if (values.datadir === undefined) {
    const env = opts.env ?? {};
    values.datadir =
      env.ALTNET_DATADIR ||
      env.STATE_DIRECTORY?.split(':')[0] ||
      opts.serviceDatadir ||
      (env.HOME ? pathPosix.join(env.HOME, '.altnet') : '.altnet');
  }

  const listen = values.listen as HostPort;
  if (!values.allowremote && !isLoopback(listen.host)) {
    const e = chosen.get('listen')!;
    throw lineError(
      'config-not-loopback',
      e,
      `listen=${e.value} is not a loopback address; the node normally runs on this machine (use 127.0.0.1), or set allowremote=1 if you really mean it`,
    );
  }

  const { links, linkConfigs } = groupLinks(linkEntries);
  return {
    ...(values as Omit<Config, 'links' | 'linkConfigs' | 'confFile' | 'sources'>),
    links,
    linkConfigs,
    confFile,
    sources,
  };
}

function splitSectionPrefix(e: RawEntry): RawEntry {
  let key = e.key;
  let section = e.section;
  const dot = key.indexOf('.');
  if (dot > 0 && SECTION_NAMES.includes(key.slice(0, dot).toLowerCase())) {
    section = key.slice(0, dot).toLowerCase();
    key = key.slice(dot + 1);
    if (e.section !== undefined && e.section !== section) {
      throw lineError('config-bad-section', e, `"${e.key}" names network ${section} inside [${e.section}]`);
    }
  }
  if (key.toLowerCase().startsWith('link.')) {
    // Link names keep their case (they name things the user sees); the `link` prefix and keys do not.
    const parts = key.split('.');
    if (parts.length !== 3 || parts[1] === '' || parts[2] === '') {
      throw lineError('config-bad-link', e, `"${e.key}" should look like link.<name>.<key>, e.g. link.lora0.type=lora`);
    }
    if (!LINK_NAME_RE.test(parts[1])) {
      throw lineError(
        'config-bad-link',
        e,
        `link name "${parts[1]}" may use letters, digits, "_" and "-" (at most 32, starting with a letter or digit)`,
      );
    }
    const lk = parts[2].toLowerCase();
    if (!LINK_KEY_RE.test(lk)) throw lineError('config-bad-link', e, `link key "${parts[2]}" may use letters, digits and "_"`);
    return { ...e, key: `link.${parts[1]}.${lk}`, section };
  }
  return { ...e, key: key.toLowerCase(), section };
}

function groupLinks(entries: RawEntry[]): { links: Record<string, Record<string, string>>; linkConfigs: LinkConfig[] } {
  const byName = new Map<string, Map<string, RawEntry>>();
  for (const e of entries) {
    const [, name, key] = e.key.split('.');
    let m = byName.get(name);
    if (!m) byName.set(name, (m = new Map()));
    const current = m.get(key);
    if (!current || e.fromFlag || (!current.fromFlag && e.section !== undefined) || current.section === e.section) m.set(key, e);
  }
  const links: Record<string, Record<string, string>> = {};
  const linkConfigs: LinkConfig[] = [];
  for (const [name, m] of byName) {
    const typeEntry = m.get('type');
    if (!typeEntry) {
      const first = [...m.values()][0];
      throw lineError('config-link-type', first, `link "${name}" has no type; add link.${name}.type=<${LINK_TYPES.join('|')}>`);
    }
    const type = typeEntry.value.toLowerCase();
    if (!LINK_TYPES.includes(type)) {
      throw lineError(
        'config-link-type',
        typeEntry,
        `link "${name}" has unknown type "${typeEntry.value}"; known types: ${LINK_TYPES.join(', ')}`,
      );
    }
    const keys: Record<string, string> = {};
    const sources: Record<string, ValueSource> = {};
    for (const [k, e] of [...m.entries()].sort(([a], [b]) => compareNames(a, b))) {
      keys[k] = k === 'type' ? type : e.value;
      sources[k] = e.source;
    }
    links[name] = keys;
    linkConfigs.push({ name, type, keys, sources });
  }
  return { links, linkConfigs };
}

function lineError(code: string, e: RawEntry, problem: string): ConfigLineError {
  return new ConfigLineError(code, e.source.file, e.source.line, problem);
}

function unknownKey(e: RawEntry): ConfigLineError {
  const near = closestOption(e.key);
  return lineError(
    'config-unknown-key',
    e,
    `unknown option "${e.key}"${near ? ` (did you mean "${near}"?)` : ''}; \`altnet run --help\` lists them`,
  );
}

function closestOption(key: string): string | undefined {
  return closest(
    key,
    OPTIONS.map((o) => o.name),
  );
}

const TRUE_WORDS = ['1', 'true', 'yes', 'on'];
const FALSE_WORDS = ['0', 'false', 'no', 'off'];
const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 };

function parseValue(spec: OptionSpec, e: RawEntry, opts: ParseOptions): unknown {
  const v = e.value;
  const bad = (why: string) => lineError('config-bad-value', e, `${spec.name}=${truncate(v)}: ${why}`);
  switch (spec.type) {
    case 'string': {
      if (v === '') return undefined;
      if (spec.pattern && !spec.pattern.test(v)) throw bad(`expected ${spec.patternHint ?? spec.pattern.source}`);
      return spec.upperCase ? v.toUpperCase() : v;
    }
    case 'enum': {
      const lower = v.toLowerCase();
      if (!spec.values!.includes(lower)) throw bad(`expected one of ${spec.values!.join(', ')}`);
      return lower;
    }
    case 'bool': {
      const lower = v.toLowerCase();
      if (TRUE_WORDS.includes(lower)) return true;
      if (FALSE_WORDS.includes(lower)) return false;
      throw bad('expected 1 or 0 (true/false, yes/no, on/off)');
    }
    case 'int':
    case 'number': {
      const n = spec.type === 'int' ? (/^[+-]?\d+$/.test(v) ? Number(v) : NaN) : v.trim() === '' ? NaN : Number(v);
      if (!Number.isFinite(n)) throw bad(spec.type === 'int' ? 'expected a whole number' : 'expected a number');
      checkRange(spec, n, bad, String);
      return n;
    }
    case 'duration': {
      const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/i.exec(v);
      if (!m) throw bad('expected a duration such as 500ms, 30s, 5m, 2h or 1d');
      const ms = Math.round(Number(m[1]) * DURATION_UNITS[(m[2] ?? 's').toLowerCase()]);
      checkRange(spec, ms, bad, formatDuration);
      return ms;
    }
    case 'path': {
      if (v === '') return undefined;
      if (v.includes('\0')) throw bad('contains a NUL byte');
      let p = v;
      const home = opts.env?.HOME;
      if ((p === '~' || p.startsWith('~/')) && home) p = home + p.slice(1);
      if (pathPosix.isAbsolute(p)) return pathPosix.normalize(p);
      const base = e.fromFlag ? (opts.cwd ?? '.') : pathPosix.dirname(e.source.file);
      return pathPosix.join(base, p);
    }
    case 'hostport': {
      if (spec.offWords?.includes(v.toLowerCase())) return undefined;
      let hp: HostPort;
      try {
        hp = parseHostPort(v);
      } catch (err) {
        throw bad((err as Error).message);
      }
      if (spec.loopbackOnly && spec.name !== 'listen' && !isLoopback(hp.host)) {
        throw lineError('config-not-loopback', e, `${spec.name}=${v}: only a loopback address (127.0.0.1 or [::1]) is allowed here`);
      }
      return hp;
    }
  }
}

function checkRange(spec: OptionSpec, n: number, bad: (why: string) => ConfigError, fmt: (n: number) => string): void {
  if (spec.min !== undefined && n < spec.min) throw bad(`must be at least ${fmt(spec.min)}`);
  if (spec.max !== undefined && n > spec.max) throw bad(`must be at most ${fmt(spec.max)}`);
}

function formatDuration(ms: number): string {
  for (const [u, f] of [
    ['d', 86_400_000],
    ['h', 3600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms >= f && ms % f === 0) return `${ms / f}${u}`;
  }
  return `${ms}ms`;
}

// ---------------------------------------------------------------------------------------------
// Loading: the file named by --conf, else $ALTNET_CONF, else the first default path that exists.

export interface LoadOptions {
  /** Files tried in order when neither --conf nor $ALTNET_CONF names one. */
  defaultPaths?: readonly string[];
  /** The installed service's datadir, used by default when it exists. */
  serviceDatadir?: string;
  readFile?: (path: string) => string | undefined;
}

export const DEFAULT_CONF_PATHS = ['/etc/altnet/altnet.conf'] as const;
/** Where the installed service keeps its data (systemd StateDirectory=altnet). */
export const SERVICE_DATADIR = '/var/lib/altnet';

/** Reads the config file (if any) and applies `argv` flags over it. */
export function loadConfig(argv: readonly string[], io: CliIO, lopts: LoadOptions = {}): Config {
  const readFile =
    lopts.readFile ??
    ((p: string) => {
      try {
        return readFileSync(p, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw new ConfigError('config-unreadable', `cannot read config file ${p}: ${(err as Error).message}`);
      }
    });
  const flags: string[] = [];
  let explicit: string | undefined;
  for (const a of argv) {
    const m = /^--?conf(?:=(.*))?$/s.exec(a);
    if (m) {
      if (m[1] === undefined) throw new ConfigError('config-bad-flag', '--conf needs a value: --conf=/etc/altnet/altnet.conf');
      explicit = m[1];
    } else {
      flags.push(a);
    }
  }
  explicit ??= io.env.ALTNET_CONF;
  const serviceDatadir = lopts.serviceDatadir ?? io.layout?.serviceDatadir ?? SERVICE_DATADIR;
  const popts: ParseOptions = { flags, env: io.env, cwd: io.cwd, serviceDatadir: existsSync(serviceDatadir) ? serviceDatadir : undefined };
  if (explicit !== undefined) {
    if (explicit === '' || explicit === '0' || explicit === 'none') return parseConfig('', '', popts);
    const path = pathPosix.isAbsolute(explicit) ? explicit : pathPosix.join(io.cwd, explicit);
    const text = readFile(path);
    if (text === undefined)
      throw new ConfigError('config-file-missing', `config file ${path} does not exist; create it from altnet.conf.example or drop --conf`);
    return parseConfig(text, path, popts);
  }
  for (const path of lopts.defaultPaths ?? io.layout?.confPaths ?? DEFAULT_CONF_PATHS) {
    const text = readFile(path);
    if (text !== undefined) return parseConfig(text, path, popts);
  }
  return parseConfig('', '', popts);
}

/** Where a built-in default link comes from (shown by `run --check`). */
export const DEFAULTS_SOURCE: ValueSource = { file: 'built-in defaults', line: 0 };

/**
 * The config with the network's default links (src/links/defaults.ts) added: when no link is
 * configured (unless defaults=0) or with defaults=1. Pure; `defaultsNote` says what happened.
 */
export function withDefaultLinks(config: Config): Config {
  const none = config.linkConfigs.length === 0;
  if (config.defaults === false) {
    return none
      ? { ...config, defaultsNote: 'no links configured and defaults=0: altnet runs no links and protects nothing by itself' }
      : config;
  }
  if (!none && config.defaults !== true) return config;
  const choice = chooseDefaultLinks(config.network, {
    proxy: config.proxy !== undefined,
    taken: new Set(config.linkConfigs.map((l) => l.name)),
    reason: none ? 'no-links' : 'defaults=1',
    serverOf: linkServer,
    servers: new Map(
      config.linkConfigs.flatMap((l) => {
        const server = linkServer(l.type, config.links[l.name] ?? {});
        return server === undefined ? [] : [[server, l.name] as const];
      }),
    ),
  });
  const links = { ...config.links };
  const linkConfigs = [...config.linkConfigs];
  for (const d of choice.links) {
    links[d.name] = d.options;
    linkConfigs.push({ name: d.name, type: d.options.type, keys: d.options, sources: { type: DEFAULTS_SOURCE }, builtin: d.about });
  }
  return { ...config, links, linkConfigs, defaultsNote: choice.note };
}

// ---------------------------------------------------------------------------------------------
// Help text, generated from OPTIONS.

function metaFor(o: OptionSpec): string {
  if (o.meta) return o.meta;
  switch (o.type) {
    case 'enum':
      return `<${o.values!.join('|')}>`;
    case 'bool':
      return '<0|1>';
    case 'hostport':
      return '<host:port>';
    case 'duration':
      return '<duration>';
    case 'int':
    case 'number':
      return '<n>';
    case 'path':
      return '<dir>';
    case 'string':
      return o.name === 'callsign' ? '<callsign>' : '<text>';
  }
}

function describeDefault(o: OptionSpec): string {
  const parts: string[] = [];
  if (o.default !== undefined && o.default !== '') parts.push(`default: ${o.default}`);
  if (o.type === 'int' || o.type === 'number') {
    if (o.min !== undefined || o.max !== undefined) parts.push(`range: ${o.min ?? '-∞'}..${o.max ?? '∞'}`);
  } else if (o.type === 'duration') {
    if (o.min !== undefined || o.max !== undefined)
      parts.push(`range: ${o.min !== undefined ? formatDuration(o.min) : '0'}..${o.max !== undefined ? formatDuration(o.max) : '∞'}`);
  }
  return parts.length ? ` (${parts.join('; ')})` : '';
}

/** The options part of `altnet run --help`. */
export function optionsHelp(): string {
  const lines: string[] = [
    'Options (in altnet.conf as key=value, or on the command line as -key=value, which wins):',
    '',
    '  -conf=<file>',
    '       Config file to read (default: $ALTNET_CONF, else /etc/altnet/altnet.conf if it',
    '       exists). -conf=none reads none.',
    '',
  ];
  for (const o of OPTIONS) {
    lines.push(`  -${o.name}=${metaFor(o)}`);
    lines.push(...wrap(o.help + describeDefault(o), '       '));
    lines.push('');
  }
  lines.push('Links (one block per link; each driver checks its own keys):', '');
  lines.push('  -link.<name>.type=<' + LINK_TYPES.join('|') + '>');
  lines.push(
    ...wrap(
      'Every link needs a type. Other keys depend on it, e.g. link.lora0.board=rak3172, link.lora0.device=/dev/altnet/ch340-usb1-1.3.',
      '       ',
    ),
  );
  lines.push('');
  lines.push('Network sections: [main], [testnet4], [signet], [regtest], or the prefix form regtest.key=value,');
  lines.push('apply only when that network is selected. Durations: 500ms, 30s, 5m, 2h, 1d.');
  return lines.join('\n');
}
