// Link types by name, as written in altnet.conf (`link.<name>.type=<type>`). Each entry
// builds a Link from its option strings; it runs inside the driver's child process.
import { ConfigError } from '../util/errors.js';
import type { FrameTransport, Link, LinkContext } from './link.js';
import { FramedLink, type FramedLinkOptions } from './framed.js';
import type { Integrity } from '../codec/frames.js';

export type LinkFactory = (name: string, options: Record<string, string>, ctx: LinkContext) => Promise<Link>;

/** Drivers whose module exports `create(options, ctx)`. */
function viaCreate(load: () => Promise<{ create: (options: Record<string, string>, ctx: LinkContext) => Link }>): () => Promise<LinkFactory> {
  return async () => {
    const { create } = await load();
    return async (name, options, ctx) => create({ name, ...options }, ctx);
  };
}

/** Options of the framed layer itself, taken out before the transport sees the rest. */
function framedOptions(name: string, options: Record<string, string>): { framed: FramedLinkOptions; rest: Record<string, string> } {
  const { integrity, repair, ...rest } = options;
  const framed: FramedLinkOptions = {};
  if (integrity !== undefined) {
    if (!['none', 'crc16', 'crc32'].includes(integrity)) throw new ConfigError('link_option_invalid', `link.${name}.integrity must be none, crc16 or crc32`);
    framed.integrity = integrity as Integrity;
  }
  if (repair !== undefined) {
    const r = Number(repair);
    if (!(r >= 0 && r <= 4)) throw new ConfigError('link_option_invalid', `link.${name}.repair must be a number in [0, 4] (repair fragments per source fragment)`);
    framed.repairRatio = r;
  }
  return { framed, rest };
}

/** Radio-like links: a FrameTransport from the driver module, the codec on top. */
function viaTransport(load: () => Promise<(name: string, options: Record<string, string>, ctx: LinkContext) => FrameTransport>): () => Promise<LinkFactory> {
  return async () => {
    const make = await load();
    return async (name, options, ctx) => {
      const { framed, rest } = framedOptions(name, options);
      return new FramedLink(name, make(name, rest, ctx), ctx, framed);
    };
  };
}

/** LoRa modems and KISS TNCs: the radio factory picks the dialect from `type` and `board`. */
const radio = viaTransport(async () => {
  const { createRadioTransport } = await import('./radio/factory.js');
  return (name, o, ctx) => createRadioTransport({ name, ...o }, { log: ctx.log, counters: ctx.counters });
});

const FACTORIES: Record<string, () => Promise<LinkFactory>> = {
  sim: viaTransport(async () => {
    const { simTransportFromOptions } = await import('./sim/transport.js');
    return (name, o, ctx) => simTransportFromOptions(name, o, { log: ctx.log, counters: ctx.counters });
  }),
  lora: radio,
  kiss: radio,
  ble: viaTransport(async () => {
    const { createBleTransport } = await import('./ble/config.js');
    return (name, o, ctx) => createBleTransport(o, { linkName: name, log: ctx.log, counters: ctx.counters });
  }),
  esplora: viaCreate(() => import('./esplora/esplora.js')),
  electrum: viaCreate(() => import('./electrum/electrum.js')),
  dns: viaCreate(() => import('./dns/dns.js')),
  p2p: viaCreate(() => import('./p2p/p2p.js')),
  // Loads a driver from a JavaScript module exporting `createLink(name, options, ctx)`.
  // For developers and tests: lets a driver live outside this tree.
  module: async () => async (name, options, ctx) => {
    const path = options.path;
    if (!path) throw new ConfigError('link-option-missing', `link.${name}.path is required for type=module`);
    const mod = (await import(path)) as { createLink?: LinkFactory };
    if (typeof mod.createLink !== 'function') {
      throw new ConfigError('link-module-invalid', `${path} does not export createLink(name, options, ctx)`);
    }
    return mod.createLink(name, options, ctx);
  },
};

export function linkTypes(): string[] {
  return Object.keys(FACTORIES);
}

export async function createLink(type: string, name: string, options: Record<string, string>, ctx: LinkContext): Promise<Link> {
  const load = FACTORIES[type];
  if (!load) throw new ConfigError('link-unknown-type', `link.${name}.type=${type} is not a known link type (${linkTypes().join(', ')})`);
  return (await load())(name, options, ctx);
}
