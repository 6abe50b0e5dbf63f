// Link types by name, as written in altnet.conf (`link.<name>.type=<type>`). Each entry
// builds a Link from its option strings; it runs inside the driver's child process.
import { ConfigError } from '../util/errors.js';
import type { Link, LinkContext } from './link.js';

export type LinkFactory = (name: string, options: Record<string, string>, ctx: LinkContext) => Promise<Link>;

/** Drivers whose module exports `create(options, ctx)`. */
function viaCreate(load: () => Promise<{ create: (options: Record<string, string>, ctx: LinkContext) => Link }>): () => Promise<LinkFactory> {
  return async () => {
    const { create } = await load();
    return async (name, options, ctx) => create({ name, ...options }, ctx);
  };
}

const FACTORIES: Record<string, () => Promise<LinkFactory>> = {
  esplora: viaCreate(() => import('./esplora/esplora.js')),
  electrum: viaCreate(() => import('./electrum/electrum.js')),
  dns: viaCreate(() => import('./dns/dns.js')),
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
