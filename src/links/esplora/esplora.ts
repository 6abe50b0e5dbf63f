// Esplora (Blockstream / mempool.space REST API) as a header source, over HTTP or HTTPS.
// Endpoints used: GET /blocks/tip/height, /blocks/tip/hash, /block-height/:height,
// /block/:hash/header, /block/:hash/status, /block/:hash/raw (blocks); POST /tx. Every answer is bounded in size, has a
// deadline, and is checked (a header must hash to the hash it was asked for).
import type http from 'node:http';
import type https from 'node:https';
import { headerHash } from '../../chain/header.js';
import { equalBytes, fromHex, hashToHex, hexToHash, toHex } from '../../util/bytes.js';
import { AltnetError, MalformedInputError } from '../../util/errors.js';
import { internetCapabilities, type Link, type LinkCapabilities, type LinkContext } from '../link.js';
import {
  pollingOptions,
  readPemOption,
  readPollingOptions,
  RateLimiter,
  realTimers,
  SourceLieError,
  SourceLink,
  SourceUnavailableError,
  withTimeout,
  type HeaderSource,
  type PollingOptions,
  type SourceTip,
  type Timers,
} from '../source/index.js';
import { readLinkOptions } from '../options.js';
import { loadHttp, proxyAgent, readProxyOption } from '../source/dial.js';
import type { HostPort } from '../../util/net.js';
import { ESPLORA_OPTIONS } from './options.js';

export interface EsploraOptions {
  /** Base URL of the API, e.g. https://host/api (no trailing slash needed). */
  url: string;
  /** PEM certificate(s) to trust instead of the system roots (self-hosted servers). */
  ca?: string | Buffer;
  timeoutMs?: number;
  /** SOCKS5 proxy every request goes through (the proxy resolves the server's name). */
  proxy?: HostPort;
  /** Requests per second (0: unlimited; the `rate` option is per minute) and burst. */
  ratePerSecond?: number;
  burst?: number;
  timers?: Timers;
}

/**
 * An HTTP Retry-After value (RFC 9110 10.2.3: delay-seconds or an HTTP-date) as ms from now;
 * undefined when absent or unreadable. Capped at a day: a server cannot park a link forever.
 */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  let ms: number;
  if (/^\d{1,10}$/.test(v)) ms = Number(v) * 1000;
  else {
    const at = Date.parse(v);
    if (!Number.isFinite(at) || !/GMT$/.test(v)) return undefined;
    ms = at - nowMs;
  }
  return Math.min(Math.max(0, ms), 86_400_000);
}

/** Largest body accepted from any endpoint used here (tip, hash, header, status, txid). */
const MAX_BODY = 16 * 1024;

/** Largest body accepted for /block/:hash/raw: a block's serialized size limit. */
const MAX_BLOCK_BODY = 4_000_000;

interface HttpAnswer {
  status: number;
  body: string;
  /** The Retry-After header, as sent. */
  retryAfter?: string;
  /** The body's bytes (binary requests only). */
  bytes?: Buffer;
}

export class EsploraSource implements HeaderSource {
  readonly batch = 25;
  readonly canScanBack = false;
  private readonly base: URL;
  private readonly agent: http.Agent;
  private readonly timeoutMs: number;
  private readonly timers: Timers;
  private readonly limiter: RateLimiter;
  private readonly inflight = new Set<http.ClientRequest>();
  private closed = false;

  constructor(private readonly opts: EsploraOptions) {
    this.base = new URL(opts.url.endsWith('/') ? opts.url : opts.url + '/');
    const tls = this.base.protocol === 'https:';
    this.agent = opts.proxy
      ? proxyAgent(opts.proxy, { https: tls, ca: opts.ca, timeoutMs: opts.timeoutMs ?? 15_000 })
      : tls
        ? new (loadHttp(true) as typeof https).Agent({ keepAlive: true, maxSockets: 4, ca: opts.ca })
        : new (loadHttp(false) as typeof http).Agent({ keepAlive: true, maxSockets: 4 });
    this.timeoutMs = opts.timeoutMs ?? 15_000;
    this.timers = opts.timers ?? realTimers;
    this.limiter = new RateLimiter(opts.ratePerSecond ?? 1, opts.burst ?? 20, this.timers);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.limiter.drain();
    for (const r of this.inflight) r.destroy(new SourceUnavailableError('link stopped'));
    this.agent.destroy();
  }

  private async call(method: 'GET' | 'POST', path: string, body?: string, binary = false): Promise<HttpAnswer> {
    const maxBody = binary ? MAX_BLOCK_BODY : MAX_BODY;
    if (this.closed) throw new SourceUnavailableError('link stopped');
    await this.limiter.take();
    if (this.closed) throw new SourceUnavailableError('link stopped');
    const url = new URL(path, this.base);
    const mod = loadHttp(url.protocol === 'https:');
    let req: http.ClientRequest | null = null;
    return withTimeout(
      this.timers,
      this.timeoutMs,
      `${method} ${url.pathname}`,
      () =>
        new Promise<HttpAnswer>((resolve, reject) => {
          req = mod.request(
            url,
            {
              method,
              agent: this.agent,
              headers: body !== undefined ? { 'content-type': 'text/plain' } : undefined,
            },
            (res) => {
              const chunks: Buffer[] = [];
              let size = 0;
              res.on('data', (c: Buffer) => {
                size += c.length;
                if (size > maxBody) {
                  res.destroy();
                  reject(new MalformedInputError('esplora-body-too-large', `${url.pathname}: answer over ${maxBody} bytes`));
                  return;
                }
                chunks.push(c);
              });
              res.on('end', () => {
                const all = Buffer.concat(chunks);
                const status = res.statusCode ?? 0;
                // A binary answer that is an error carries a short text; keep it for the message.
                const retryAfter = typeof res.headers['retry-after'] === 'string' ? res.headers['retry-after'] : undefined;
                resolve(
                  binary && status >= 200 && status <= 299
                    ? { status, body: '', bytes: all }
                    : { status, body: all.toString('utf8'), retryAfter },
                );
              });
              res.on('error', (e) => reject(new SourceUnavailableError(`${url.pathname}: ${e.message}`, { cause: e })));
            },
          );
          this.inflight.add(req);
          req.on('close', () => this.inflight.delete(req!));
          req.on('error', (e) =>
            reject(e instanceof AltnetError ? e : new SourceUnavailableError(`${url.host}${url.pathname}: ${e.message}`, { cause: e })),
          );
          req.end(body);
        }),
      () => req?.destroy(),
    );
  }

  /** GET that must succeed (2xx); 404 gives null. */
  private async getText(path: string): Promise<string | null> {
    const a = await this.call('GET', path);
    if (a.status === 404) return null;
    if (a.status === 429 || a.status === 503) {
      const retryAfterMs = parseRetryAfter(a.retryAfter, this.timers.nowMs());
      const wait = retryAfterMs !== undefined ? ` (Retry-After ${Math.round(retryAfterMs / 1000)} s)` : '';
      if (a.status === 429)
        throw new SourceUnavailableError(
          `GET ${path}: HTTP 429, the server asks us to slow down${wait}; counted as unavailable, asked again later`,
          { retryAfterMs },
        );
      if (retryAfterMs !== undefined) throw new SourceUnavailableError(`GET ${path}: HTTP 503${wait}`, { retryAfterMs });
    }
    if (a.status < 200 || a.status > 299) {
      throw new SourceUnavailableError(`GET ${path}: HTTP ${a.status} ${a.body.slice(0, 80)}`);
    }
    // A captcha or error page from a CDN in front of a public server is not the server lying:
    // the source is unavailable, and is asked again later.
    if (/^\s*</.test(a.body))
      throw new SourceUnavailableError(`GET ${path}: an HTML page where data was expected (captcha or error page?)`);
    return a.body.trim();
  }

  private parseHash(text: string, where: string): Uint8Array {
    if (!/^[0-9a-fA-F]{64}$/.test(text)) {
      throw new MalformedInputError('esplora-bad-hash', `${where}: expected a 64-digit hex hash, got ${text.slice(0, 80)}`);
    }
    return hexToHash(text);
  }

  /** The header for a hash; checked to hash to exactly that. */
  async headerFor(hash: Uint8Array): Promise<Uint8Array | null> {
    const path = `block/${hashToHex(hash)}/header`;
    const text = await this.getText(path);
    if (text === null) return null;
    if (!/^[0-9a-fA-F]{160}$/.test(text)) {
      throw new MalformedInputError('esplora-bad-header', `${path}: expected 160 hex digits, got ${text.slice(0, 80)}`);
    }
    const raw = fromHex(text);
    const got = headerHash(raw);
    if (!equalBytes(got, hash)) {
      throw new SourceLieError('wrong-header-for-hash', `${path} returned the header of ${hashToHex(got)}`);
    }
    return raw;
  }

  /**
   * The raw block for a hash (GET /block/:hash/raw). Its header must hash to the hash asked for;
   * everything else is verified by the main process.
   */
  async fetchBlock(hash: Uint8Array): Promise<Uint8Array> {
    const path = `block/${hashToHex(hash)}/raw`;
    const a = await this.call('GET', path, undefined, true);
    if (a.status === 404) throw new SourceUnavailableError(`GET ${path}: the server does not have this block (404)`);
    if (a.status < 200 || a.status > 299 || !a.bytes)
      throw new SourceUnavailableError(`GET ${path}: HTTP ${a.status} ${a.body.slice(0, 80)}`);
    const raw = new Uint8Array(a.bytes.buffer, a.bytes.byteOffset, a.bytes.length);
    if (raw.length < 81) throw new MalformedInputError('esplora-bad-block', `${path}: ${raw.length} bytes is not a block`);
    const got = headerHash(raw.subarray(0, 80));
    if (!equalBytes(got, hash)) throw new SourceLieError('wrong-header-for-hash', `${path} returned block ${hashToHex(got)}`);
    return raw;
  }

  async fetchTip(): Promise<SourceTip> {
    const hText = await this.getText('blocks/tip/height');
    if (hText === null || !/^\d{1,9}$/.test(hText)) {
      throw new MalformedInputError('esplora-bad-height', `blocks/tip/height: expected a height, got ${String(hText).slice(0, 40)}`);
    }
    const height = Number(hText);
    const hashText = await this.getText('blocks/tip/hash');
    if (hashText === null) throw new SourceUnavailableError('blocks/tip/hash: not found');
    const hash = this.parseHash(hashText, 'blocks/tip/hash');
    const header = await this.headerFor(hash);
    if (!header) {
      throw new SourceLieError('tip-not-backed', `claims tip ${hashToHex(hash)} but has no header for it`);
    }
    return { height, hash, header };
  }

  async hashAt(height: number): Promise<Uint8Array | null> {
    const text = await this.getText(`block-height/${height}`);
    return text === null ? null : this.parseHash(text, `block-height/${height}`);
  }

  async heightOf(hash: Uint8Array): Promise<number | null> {
    const path = `block/${hashToHex(hash)}/status`;
    const text = await this.getText(path);
    if (text === null) return null;
    let status: unknown;
    try {
      status = JSON.parse(text);
    } catch {
      throw new MalformedInputError('esplora-bad-status', `${path}: not JSON`);
    }
    const s = status as { in_best_chain?: unknown; height?: unknown };
    if (s.in_best_chain !== true) return null;
    if (typeof s.height !== 'number' || !Number.isSafeInteger(s.height) || s.height < 0) {
      throw new MalformedInputError('esplora-bad-status', `${path}: in_best_chain without a height`);
    }
    return s.height;
  }

  async fetchHeaders(start: number, count: number): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [];
    for (let h = start; h < start + count; h++) {
      const hash = await this.hashAt(h);
      if (!hash) break;
      const header = await this.headerFor(hash);
      if (!header) {
        throw new SourceLieError('tip-not-backed', `block-height/${h} names ${hashToHex(hash)} but it has no header for it`);
      }
      out.push(header);
    }
    return out;
  }

  /** Broadcasts a transaction; resolves once the server accepted it and named its txid. */
  async sendTx(raw: Uint8Array): Promise<void> {
    let txid: string;
    // bitcoinjs-lib (110 modules, ~5 MB) only when a transaction is sent, not in every esplora
    // driver process that only fetches headers.
    const { Transaction } = await import('bitcoinjs-lib');
    try {
      txid = Transaction.fromBuffer(Buffer.from(raw)).getId();
    } catch (e) {
      throw new MalformedInputError('tx-malformed', `not a serialized transaction: ${(e as Error).message}`);
    }
    const a = await this.call('POST', 'tx', toHex(raw));
    if (a.status < 200 || a.status > 299) {
      throw new AltnetError('tx-rejected', `the Esplora server refused the transaction: HTTP ${a.status} ${a.body.slice(0, 200)}`);
    }
    const said = a.body.trim();
    if (said !== txid) {
      throw new MalformedInputError('esplora-bad-txid', `POST /tx answered ${said.slice(0, 80)}, expected txid ${txid}`);
    }
  }
}

export const ESPLORA_CAPABILITIES: LinkCapabilities = internetCapabilities({
  direction: 'duplex',
  // Headers arrive one per HTTP answer; a transaction is POSTed whole (Core's limit is 4 MB weight).
  mtu: 4_000_000,
  carries: ['headers', 'tx', 'blocks'],
});

export interface EsploraLinkOptions extends EsploraOptions, PollingOptions {
  name: string;
  maxHeaders?: number;
  /** Ask this server for headers (default); false: blocks and transactions only. */
  headers?: boolean;
}

export function createEsploraLink(opts: EsploraLinkOptions, ctx: LinkContext): SourceLink {
  const source = new EsploraSource(opts);
  return new SourceLink({
    name: opts.name,
    capabilities: {
      ...ESPLORA_CAPABILITIES,
      carries: opts.headers === false ? ['tx', 'blocks'] : ESPLORA_CAPABILITIES.carries,
      requestsPerSecond: opts.ratePerSecond ?? 1,
      burst: opts.burst ?? 20,
    },
    source,
    ctx,
    maxHeaders: opts.maxHeaders ?? 500,
    sendTx: (raw) => source.sendTx(raw),
    fetchBlock: (hash) => source.fetchBlock(hash),
    headers: opts.headers,
    ...pollingOptions(opts),
    pollMs: opts.headers === false ? 0 : opts.pollMs,
  });
}

/**
 * Config factory: `link.<name>.type=esplora` with the options of ESPLORA_OPTIONS (options.ts);
 * headers=0 uses the server for blocks (and transactions) only.
 */
export function create(options: Record<string, string>, ctx: LinkContext): Link {
  const o = readLinkOptions(options, 'esplora', 'esplora', ESPLORA_OPTIONS);
  const url = o.must<string>('url');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw o.error('url', 'not a URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw o.error('url', 'only http:// and https:// are supported');
  }
  if (o.has('ca') && parsed.protocol !== 'https:') {
    throw o.error('ca', 'only meaningful with an https:// url');
  }
  return createEsploraLink(
    {
      ...readPollingOptions(o),
      url,
      ca: readPemOption(o, 'ca'),
      proxy: readProxyOption(o),
      headers: o.must('headers') === '1',
    },
    ctx,
  );
}
