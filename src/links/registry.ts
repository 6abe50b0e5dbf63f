// The one table of link types, as written in altnet.conf (`link.<name>.type=<type>`). An entry
// holds everything known about a type before its driver runs: its option table (key, form,
// default, range, help), static facts (family, whether it can transmit, whether transmitting
// needs a callsign, what it carries) and a lazy factory that builds the Link inside the
// driver's child process. The CLI (config checks, the callsign and receive-only fill-ins, help)
// reads this table; nothing else lists link types. Adding a type: one entry here plus its folder
// (see README.md in this directory).
import { ConfigError } from '../util/errors.js';
import type { Cargo, FrameTransport, Link, LinkContext } from './link.js';
import { FRAMED_OPTIONS, framedLinkOptions } from './framed-options.js';
import { checkLinkOptions, FALSE_WORDS, type LinkOptionProblem, type LinkOptionSpec } from './options.js';
import { KISS_OPTIONS, LORA_OPTIONS } from './radio/options.js';
import { SIM_OPTIONS } from './sim/options.js';
import { BLE_OPTIONS } from './ble/options.js';
import { ESPLORA_OPTIONS } from './esplora/options.js';
import { ELECTRUM_OPTIONS } from './electrum/options.js';
import { DNS_OPTIONS } from './dns/options.js';
import { P2P_OPTIONS } from './p2p/options.js';
import { PEERS_OPTIONS } from './peers/options.js';

export type LinkFactory = (name: string, options: Record<string, string>, ctx: LinkContext) => Promise<Link>;

/**
 * radio: a FrameTransport from the driver folder with FramedLink (codec, fragments, FEC) on top.
 * source: an internet header source; the driver module builds the whole Link (usually a SourceLink).
 * module: a driver loaded from a JavaScript file, for developers and tests.
 */
export type LinkFamily = 'radio' | 'source' | 'module';

export interface LinkTypeEntry {
  type: string;
  family: LinkFamily;
  /** One line for `altnet help links`. */
  summary: string;
  /** The link's options (framed-layer options included for radio types). */
  options: readonly LinkOptionSpec[];
  /** Keys outside `options` are passed on unchecked (type=module: the module checks its own). */
  openOptions?: boolean;
  /**
   * Whether transmitting needs an operator callsign: always (amateur radio), only on an amateur
   * board (BLE KISS TNCs), or never.
   */
  needsCallsign: 'always' | 'amateur-board' | 'never';
  /** Can put anything on its medium (frames, transactions); false: it only asks and listens. */
  canTransmit: boolean;
  /** What it can carry (a driver may report less at run time). */
  carries: readonly Cargo[];
  /**
   * Internet links that take `proxy` (SOCKS5): the option holding where they connect, for
   * onlynet=onion. Unset: the type does not connect to an internet host itself.
   */
  destinationKey?: 'peer' | 'url' | 'server';
  /** Why this type cannot run under proxy= (it would reach the network around the proxy). */
  proxyLeak?: string;
  /**
   * Whether a link with these options may open TLS connections; false: its driver process never
   * does (the supervisor then leaves NODE_EXTRA_CA_CERTS out of its environment,
   * util/node-memory.ts driverEnv). Unset: it may.
   */
  speaksTls?: (options: Record<string, string>) => boolean;
  /** Builds the factory; loads the driver module only when a link of this type starts. */
  load: () => Promise<LinkFactory>;
}

/** Drivers whose module exports `create(options, ctx)`. */
function viaCreate(
  load: () => Promise<{ create: (options: Record<string, string>, ctx: LinkContext) => Link }>,
): () => Promise<LinkFactory> {
  return async () => {
    const { create } = await load();
    return async (name, options, ctx) => create({ name, ...options }, ctx);
  };
}

/** Radio-like links: a FrameTransport from the driver module, the codec on top. */
function viaTransport(
  load: () => Promise<(name: string, options: Record<string, string>, ctx: LinkContext) => FrameTransport>,
): () => Promise<LinkFactory> {
  return async () => {
    const make = await load();
    const { FramedLink } = await import('./framed.js');
    return async (name, options, ctx) => {
      const { framed, rest } = framedLinkOptions(name, options);
      return new FramedLink(name, make(name, rest, ctx), ctx, framed);
    };
  };
}

/** LoRa modems and KISS TNCs: the radio factory picks the dialect from `type` and `board`. */
const radio = viaTransport(async () => {
  const { createRadioTransport } = await import('./radio/factory.js');
  return (name, o, ctx) => createRadioTransport({ name, ...o }, { log: ctx.log, counters: ctx.counters });
});

/** A radio type: FramedLink over the driver's transport, so it takes the framed options, can transmit and carries headers and transactions. */
function radioType(e: Pick<LinkTypeEntry, 'type' | 'summary' | 'options' | 'needsCallsign' | 'load'>): LinkTypeEntry {
  return {
    family: 'radio',
    canTransmit: true,
    carries: ['headers', 'tx'],
    speaksTls: () => false,
    ...e,
    options: [...e.options, ...FRAMED_OPTIONS],
  };
}

/** An internet source type: the driver module's create() builds the link; no callsign. */
function sourceType(
  e: Pick<LinkTypeEntry, 'type' | 'summary' | 'options' | 'canTransmit' | 'carries' | 'destinationKey' | 'proxyLeak' | 'speaksTls'>,
  load: () => Promise<{ create: (options: Record<string, string>, ctx: LinkContext) => Link }>,
): LinkTypeEntry {
  return { family: 'source', needsCallsign: 'never', ...e, load: viaCreate(load) };
}

const ENTRIES: readonly LinkTypeEntry[] = [
  radioType({
    type: 'lora',
    summary: 'A LoRa modem on a serial port or TCP (RAK3172, RN2483, RNode, E22, Meshtastic); see `altnet boards`.',
    options: LORA_OPTIONS,
    needsCallsign: 'never',
    load: radio,
  }),
  radioType({
    type: 'kiss',
    summary: 'Amateur packet radio: an AX.25 KISS TNC on a serial port, or Dire Wolf over TCP. Transmitting needs a callsign.',
    options: KISS_OPTIONS,
    needsCallsign: 'always',
    load: radio,
  }),
  radioType({
    type: 'ble',
    summary:
      'A Bluetooth LE radio: a BLE KISS TNC (Mobilinkd) or a Nordic UART board. Amateur TNCs need a callsign to transmit, none to listen (direction=rx).',
    options: BLE_OPTIONS,
    needsCallsign: 'amateur-board',
    load: viaTransport(async () => {
      const { createBleLinkTransport } = await import('./ble/config.js');
      return (name, o, ctx) => createBleLinkTransport(o, { linkName: name, log: ctx.log, counters: ctx.counters });
    }),
  }),
  sourceType(
    {
      type: 'p2p',
      summary: 'One Bitcoin P2P peer you choose (BIP324 v2, falling back to v1): headers and blocks in, transactions out.',
      options: P2P_OPTIONS,
      speaksTls: () => false,
      canTransmit: true,
      carries: ['headers', 'tx', 'blocks'],
      destinationKey: 'peer',
    },
    () => import('./p2p/p2p.js'),
  ),
  sourceType(
    {
      type: 'peers',
      summary:
        "Random Bitcoin P2P peers from the network's DNS seeds, Core's fixed seeds and addr/addrv2 gossip, several netgroups at once (BIP324 first, through proxy= when set); liars are banned.",
      options: PEERS_OPTIONS,
      speaksTls: () => false,
      canTransmit: true,
      carries: ['headers', 'tx', 'blocks'],
    },
    () => import('./peers/peers.js'),
  ),
  sourceType(
    {
      type: 'esplora',
      summary: 'An Esplora REST server: headers and blocks in, transactions out.',
      options: ESPLORA_OPTIONS,
      canTransmit: true,
      carries: ['headers', 'tx', 'blocks'],
      destinationKey: 'url',
      speaksTls: (o) => !/^http:\/\//i.test(o.url ?? ''),
    },
    () => import('./esplora/esplora.js'),
  ),
  sourceType(
    {
      type: 'electrum',
      summary: 'An Electrum server: headers in (with tip notifications).',
      options: ELECTRUM_OPTIONS,
      canTransmit: false,
      carries: ['headers'],
      destinationKey: 'server',
      speaksTls: (o) => o.tls !== undefined && !(FALSE_WORDS as readonly string[]).includes(o.tls.toLowerCase()),
    },
    () => import('./electrum/electrum.js'),
  ),
  sourceType(
    {
      type: 'dns',
      summary: 'Headers over DNS (AAAA records, bitcoinheaders.net style): headers in.',
      options: DNS_OPTIONS,
      speaksTls: () => false,
      canTransmit: false,
      carries: ['headers'],
      proxyLeak:
        'its queries go to DNS resolvers directly, around the proxy, telling them (and anyone watching) that this machine follows Bitcoin headers; remove the link, or drop proxy= to use it',
    },
    () => import('./dns/dns.js'),
  ),
  radioType({
    type: 'sim',
    summary: 'A LoRa-like radio on the simulated air (UDP on this machine), for the demo and tests.',
    options: SIM_OPTIONS,
    needsCallsign: 'never',
    load: viaTransport(async () => {
      const { simTransportFromOptions } = await import('./sim/transport.js');
      return (name, o, ctx) => simTransportFromOptions(name, o, { log: ctx.log, counters: ctx.counters });
    }),
  }),
  {
    type: 'module',
    family: 'module',
    summary: 'A driver from a JavaScript module exporting createLink(name, options, ctx); for developers and tests.',
    options: [{ key: 'path', type: 'path', required: true, example: '/path/to/driver.mjs', help: 'The module to import.' }],
    openOptions: true,
    needsCallsign: 'never',
    canTransmit: true,
    carries: ['headers', 'tx', 'blocks'],
    load: async () => async (name, options, ctx) => {
      const path = options.path;
      if (!path) throw new ConfigError('link-option-missing', `link.${name}.path is required for type=module`);
      const mod = (await import(path)) as { createLink?: LinkFactory };
      if (typeof mod.createLink !== 'function') {
        throw new ConfigError('link-module-invalid', `${path} does not export createLink(name, options, ctx)`);
      }
      return mod.createLink(name, options, ctx);
    },
  },
];

const BY_TYPE = new Map(ENTRIES.map((e) => [e.type, e]));

/** Every link type, in the order help lists them. */
export const LINK_TYPES: readonly string[] = ENTRIES.map((e) => e.type);

/** Types built on a FrameTransport (radios): they hear frames and spend airtime. */
export const FRAME_LINK_TYPES: readonly string[] = ENTRIES.filter((e) => e.family === 'radio').map((e) => e.type);

export function linkTypes(): string[] {
  return [...LINK_TYPES];
}

export function linkTypeEntries(): readonly LinkTypeEntry[] {
  return ENTRIES;
}

export function linkTypeEntry(type: string): LinkTypeEntry | undefined {
  return BY_TYPE.get(type);
}

/** The host an internet link connects to (for onlynet=onion), or undefined for other types. */
export function linkDestinationHost(type: string, options: Record<string, string>): string | undefined {
  const key = BY_TYPE.get(type)?.destinationKey;
  const v = key && options[key];
  if (!v) return undefined;
  if (key === 'url') {
    try {
      return new URL(v).hostname;
    } catch {
      return undefined;
    }
  }
  return v.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
}

/**
 * The server a link asks, for counting independent sources (watchdog agreement): the host and
 * port of its destination as written (URL host for Esplora), the zone of a dns link; undefined
 * for links that are their own source (radios, random peers).
 */
export function linkServer(type: string, options: Record<string, string>): string | undefined {
  if (type === 'dns' && options.domain) return `dns:${options.domain.toLowerCase().replace(/\.$/, '')}`;
  const key = BY_TYPE.get(type)?.destinationKey;
  const v = key && options[key]?.trim();
  if (!v) return undefined;
  if (key === 'url') {
    try {
      return new URL(v).host.toLowerCase();
    } catch {
      return undefined;
    }
  }
  return v.toLowerCase();
}

/** Whether links of this type take `key` (e.g. `callsign`, `direction`) in their option table. */
export function linkTypeTakes(type: string, key: string): boolean {
  return BY_TYPE.get(type)?.options.some((o) => o.key === key) ?? false;
}

/**
 * Every problem the option table finds with one link's options (`type` included or not), each
 * with its offending key; empty when the table has nothing against them. Pure: what a driver
 * checks only when it runs (files, boards, combinations) is not covered. An unknown type is one
 * problem on key `type`.
 */
export function validateLinkOptions(name: string, options: Record<string, string>, type = options.type): LinkOptionProblem[] {
  const entry = type === undefined ? undefined : BY_TYPE.get(type);
  if (!entry) {
    return [
      {
        code: 'link-option-invalid',
        key: 'type',
        value: type,
        message: `link.${name}.type=${type ?? ''}: not a known link type (${LINK_TYPES.join(', ')})`,
      },
    ];
  }
  const problems = checkLinkOptions(name, entry.type, entry.options, options);
  return entry.openOptions ? problems.filter((p) => p.code !== 'link-option-unknown') : problems;
}

export async function createLink(type: string, name: string, options: Record<string, string>, ctx: LinkContext): Promise<Link> {
  const entry = BY_TYPE.get(type);
  if (!entry) throw new ConfigError('link-unknown-type', `link.${name}.type=${type} is not a known link type (${LINK_TYPES.join(', ')})`);
  return (await entry.load())(name, options, ctx);
}
