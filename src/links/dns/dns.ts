// Headers over DNS (bitcoinheaders.net format) as a header source: one AAAA query per height,
// through node:dns's Resolver pointed at a configurable server. DNS has no "tip" question: the
// chain a zone serves ends where names stop resolving.
import { Resolver } from 'node:dns/promises';
import net from 'node:net';
import { headerHash, HEADER_SIZE } from '../../chain/header.js';
import { MalformedInputError } from '../../util/errors.js';
import { internetCapabilities, type Link, type LinkCapabilities, type LinkContext } from '../link.js';
import {
  pollingOptions,
  RateLimiter,
  readPollingOptions,
  realTimers,
  SourceLink,
  SourceTimeoutError,
  SourceUnavailableError,
  withTimeout,
  type HeaderSource,
  type PollingOptions,
  type Timers,
} from '../source/index.js';
import { readLinkOptions } from '../options.js';
import { DNS_OPTIONS } from './options.js';
import { decodeHeaderAddresses, headerName, type DnsHeaderFormat } from './codec.js';

export interface DnsSourceOptions {
  domain: string;
  format: DnsHeaderFormat;
  /** Resolver to ask, host:port; undefined: the system's resolvers. */
  server?: { host: string; port: number };
  timeoutMs?: number;
  /** Queries in flight at once. */
  concurrency?: number;
  ratePerSecond?: number;
  burst?: number;
  timers?: Timers;
}

const NO_SUCH_NAME = new Set(['ENOTFOUND', 'ENODATA']);

export class DnsSource implements HeaderSource {
  readonly batch: number;
  readonly canScanBack = false;
  private readonly resolver: Resolver;
  private readonly timers: Timers;
  private readonly timeoutMs: number;
  private readonly limiter: RateLimiter;
  private closed = false;

  constructor(private readonly opts: DnsSourceOptions) {
    this.timeoutMs = opts.timeoutMs ?? 5_000;
    this.timers = opts.timers ?? realTimers;
    this.batch = Math.max(1, opts.concurrency ?? 8);
    // c-ares keeps its own timer too; ours (injectable) is the one that decides.
    this.resolver = new Resolver({ timeout: this.timeoutMs, tries: 1 });
    if (opts.server) {
      const h = net.isIPv6(opts.server.host) ? `[${opts.server.host}]` : opts.server.host;
      this.resolver.setServers([`${h}:${opts.server.port}`]);
    }
    this.limiter = new RateLimiter(opts.ratePerSecond ?? 10, opts.burst ?? 40, this.timers);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.limiter.drain();
    this.resolver.cancel();
  }

  fetchTip(): Promise<null> {
    return Promise.resolve(null);
  }

  /** The header at a height, or null when the zone has no such name. */
  async headerAt(height: number): Promise<Uint8Array | null> {
    if (this.closed) throw new SourceUnavailableError('link stopped');
    await this.limiter.take();
    if (this.closed) throw new SourceUnavailableError('link stopped');
    const name = headerName(height, this.opts.domain, this.opts.format);
    let addrs: string[];
    try {
      addrs = await withTimeout(
        this.timers,
        this.timeoutMs,
        `AAAA ${name}`,
        () => this.resolver.resolve6(name),
        () => this.resolver.cancel(),
      );
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (typeof code === 'string' && NO_SUCH_NAME.has(code)) return null;
      if (code === 'ETIMEOUT') throw new SourceTimeoutError(`AAAA ${name}`, this.timeoutMs);
      if (code === 'EBADRESP' || code === 'EFORMERR') {
        throw new MalformedInputError('dns-bad-response', `AAAA ${name}: malformed DNS response`);
      }
      if (e instanceof Error && 'code' in e && !(e instanceof SourceTimeoutError)) {
        throw new SourceUnavailableError(`AAAA ${name}: ${e.message}`, { cause: e });
      }
      throw e;
    }
    const header = decodeHeaderAddresses(addrs, this.opts.format);
    if (header.length !== HEADER_SIZE) throw new MalformedInputError('dns-bad-answer', `AAAA ${name}: short header`);
    return header;
  }

  async hashAt(height: number): Promise<Uint8Array | null> {
    const h = await this.headerAt(height);
    return h ? headerHash(h) : null;
  }

  async fetchHeaders(start: number, count: number): Promise<Uint8Array[]> {
    const got = await Promise.all(Array.from({ length: count }, (_, i) => this.headerAt(start + i)));
    const out: Uint8Array[] = [];
    for (const h of got) {
      if (!h) break; // the zone's chain ends at the first missing height
      out.push(h);
    }
    return out;
  }
}

export const DNS_CAPABILITIES: LinkCapabilities = {
  ...internetCapabilities({ direction: 'rx', mtu: HEADER_SIZE, carries: ['headers'] }),
  bitrate: 100_000,
};

export interface DnsLinkOptions extends DnsSourceOptions, PollingOptions {
  name: string;
  maxHeaders?: number;
}

export function createDnsLink(opts: DnsLinkOptions, ctx: LinkContext): SourceLink {
  return new SourceLink({
    name: opts.name,
    capabilities: { ...DNS_CAPABILITIES, requestsPerSecond: opts.ratePerSecond ?? 10, burst: opts.burst ?? 40 },
    source: new DnsSource(opts),
    ctx,
    maxHeaders: opts.maxHeaders ?? 200,
    ...pollingOptions(opts),
  });
}

/**
 * Config factory: `link.<name>.type=dns` with the options of DNS_OPTIONS (options.ts).
 */
export function create(options: Record<string, string>, ctx: LinkContext): Link {
  const o = readLinkOptions(options, 'dns', 'dns', DNS_OPTIONS);
  const domain = o.must<string>('domain');
  if (!/^(?=.{1,200}$)([a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?\.)*[a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?\.?$/.test(domain)) {
    throw o.error('domain', 'not a domain name');
  }
  const server = o.hostPort('server');
  if (server && !net.isIP(server.host)) throw o.error('server', 'the resolver must be an IP address');
  return createDnsLink(
    {
      ...readPollingOptions(o),
      domain: domain.replace(/\.$/, ''),
      format: o.must<'v2' | 'v0'>('format'),
      server,
      concurrency: o.must<number>('concurrency'),
    },
    ctx,
  );
}
