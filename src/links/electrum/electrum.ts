// Electrum server as a header source: blockchain.headers.subscribe (tip and its
// notifications), blockchain.block.header(height), blockchain.block.headers(start, count).
import { headerHash, HEADER_SIZE } from '../../chain/header.js';
import { fromHex, parseHex } from '../../util/bytes.js';
import { MalformedInputError } from '../../util/errors.js';
import { internetCapabilities, type Link, type LinkCapabilities, type LinkContext } from '../link.js';
import { PolitePolicy, readPemOption, realTimers, SourceLink, type HeaderSource, type Timers, type SourceTip } from '../source/index.js';
import { readLinkOptions } from '../options.js';
import { readProxyOption } from '../source/dial.js';
import { ELECTRUM_OPTIONS } from './options.js';
import type { HostPort } from '../../util/net.js';
import { ElectrumClient, ElectrumRpcError, type ElectrumClientOptions } from './client.js';

/** Most headers blockchain.block.headers returns at once (protocol 1.4: the server's `max`, 2016 in ElectrumX). */
const DEFAULT_MAX_CHUNK = 2016;

function parseTipObject(v: unknown, where: string): SourceTip {
  const o = v as { height?: unknown; hex?: unknown } | null;
  if (!o || typeof o.height !== 'number' || typeof o.hex !== 'string' || !/^[0-9a-fA-F]{160}$/.test(o.hex)) {
    throw new MalformedInputError('electrum-bad-tip', `${where}: expected {height, hex} with an 80-byte header`);
  }
  return { height: o.height, header: fromHex(o.hex) };
}

/**
 * Reconnection after a lost connection: full-jitter backoff (source/polite.ts), the first wait
 * drawn from 0..1 min, doubling up to this cap, so the clients of a server that restarts do not
 * all come back in the same second.
 */
const RECONNECT_MAX_MS = 300_000;

export class ElectrumSource implements HeaderSource {
  readonly canScanBack = true;
  private maxChunk = DEFAULT_MAX_CHUNK;
  private tipHandler: ((tip: SourceTip) => void) | null = null;
  private reconnectTimer: unknown = null;
  private readonly retry: PolitePolicy;
  private closed = false;

  constructor(
    readonly client: ElectrumClient,
    private readonly report: { badAnswer(e: Error): void; reconnectFailed(e: Error, inARow: number): void },
    private readonly timers: Timers = realTimers,
    random: () => number = Math.random,
  ) {
    this.retry = new PolitePolicy({ pollMs: 0, backoffMaxMs: RECONNECT_MAX_MS, nowMs: () => timers.nowMs(), random });
    // Tip notifications are the point of this link: a lost connection is re-made (and the
    // subscription renewed) without waiting for the next request.
    client.onDrop(() => this.scheduleReconnect());
    client.onNotification((method, params) => {
      if (method !== 'blockchain.headers.subscribe' || !Array.isArray(params)) return;
      try {
        const tip = parseTipObject(params[0], 'blockchain.headers.subscribe notification');
        this.tipHandler?.(tip);
      } catch (e) {
        this.report.badAnswer(e as Error);
      }
    });
  }

  get batch(): number {
    return this.maxChunk;
  }

  onTip(handler: (tip: SourceTip) => void): void {
    this.tipHandler = handler;
  }

  async open(): Promise<void> {
    await this.fetchTip();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer !== null) this.timers.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    await this.client.close();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer !== null) return;
    this.reconnectTimer = this.timers.setTimeout(() => {
      this.reconnectTimer = null;
      this.fetchTip().then(
        (tip) => {
          this.retry.succeeded();
          this.tipHandler?.(tip);
        },
        (e: unknown) => {
          this.report.reconnectFailed(e instanceof Error ? e : new Error(String(e)), this.retry.failures);
          this.scheduleReconnect();
        },
      );
    }, this.retry.failed().delayMs);
  }

  /** Subscribing answers with the current tip (and renews the subscription after a reconnect). */
  async fetchTip(): Promise<SourceTip> {
    const r = await this.client.request('blockchain.headers.subscribe', []);
    return parseTipObject(r, 'blockchain.headers.subscribe');
  }

  async hashAt(height: number): Promise<Uint8Array | null> {
    const header = await this.headerAt(height);
    return header ? headerHash(header) : null;
  }

  async headerAt(height: number): Promise<Uint8Array | null> {
    let r: unknown;
    try {
      r = await this.client.request('blockchain.block.header', [height]);
    } catch (e) {
      if (e instanceof ElectrumRpcError) return null; // no block at that height
      throw e;
    }
    if (typeof r !== 'string' || !/^[0-9a-fA-F]{160}$/.test(r)) {
      throw new MalformedInputError('electrum-bad-header', `blockchain.block.header(${height}): expected 160 hex digits`);
    }
    return fromHex(r);
  }

  async fetchHeaders(start: number, count: number): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [];
    while (out.length < count) {
      const ask = Math.min(this.maxChunk, count - out.length);
      const from = start + out.length;
      let r: unknown;
      try {
        r = await this.client.request('blockchain.block.headers', [from, ask]);
      } catch (e) {
        if (e instanceof ElectrumRpcError && out.length === 0 && from > 0) return out; // beyond its chain
        throw e;
      }
      const o = r as { count?: unknown; hex?: unknown; max?: unknown } | null;
      if (!o || typeof o.count !== 'number' || typeof o.hex !== 'string' || !Number.isSafeInteger(o.count) || o.count < 0) {
        throw new MalformedInputError('electrum-bad-headers', `blockchain.block.headers(${from}, ${ask}): expected {count, hex}`);
      }
      let cap = ask;
      if (typeof o.max === 'number' && Number.isSafeInteger(o.max) && o.max > 0) {
        this.maxChunk = Math.min(DEFAULT_MAX_CHUNK, o.max);
        cap = Math.min(ask, o.max);
      }
      const bytes = o.count > ask || o.hex.length !== o.count * HEADER_SIZE * 2 ? undefined : parseHex(o.hex);
      if (!bytes) {
        throw new MalformedInputError(
          'electrum-bad-headers',
          `blockchain.block.headers(${from}, ${ask}): count ${o.count} does not match ${o.hex.length} hex digits`,
        );
      }
      // Views into the answer's one buffer: a copy per header is a malloc each (typed arrays over
      // 64 bytes live outside the V8 heap), and a sync's thousands of them fragmented this
      // process's malloc heap by 2 MB PSS (npm run bench -- memory, issue 18). Nothing keeps
      // header bytes past the IPC message that carries them.
      for (let i = 0; i < o.count; i++) out.push(bytes.subarray(i * HEADER_SIZE, (i + 1) * HEADER_SIZE));
      // Fewer than asked (and than the server's own cap) means its chain ends here.
      if (o.count === 0 || o.count < cap) break;
    }
    return out;
  }
}

export const ELECTRUM_CAPABILITIES: LinkCapabilities = internetCapabilities({
  direction: 'rx',
  // One JSON line carries up to 2016 headers.
  mtu: 2016 * HEADER_SIZE,
  carries: ['headers'],
});

export interface ElectrumLinkOptions extends ElectrumClientOptions {
  name: string;
  maxHeaders?: number;
  maxScanBack?: number;
  /** Uniform in [0, 1): the reconnect backoff's jitter (tests pass their own). */
  random?: () => number;
}

export function createElectrumLink(opts: ElectrumLinkOptions, ctx: LinkContext): SourceLink {
  const client = new ElectrumClient(opts);
  const bad = (e: Error) => {
    ctx.counters.inc('bad-answers');
    ctx.log.warn('bad answer from Electrum server', { link: opts.name, error: e.message });
  };
  client.onError(bad);
  const source = new ElectrumSource(
    client,
    {
      badAnswer: bad,
      reconnectFailed: (e, inARow) => {
        ctx.counters.inc('reconnect.failures');
        // One warning per outage; the retries that follow are debug lines (and counted).
        ctx.log[inARow <= 1 ? 'warn' : 'debug'](
          'reconnecting to the Electrum server failed; will retry (full-jitter backoff up to 5 min)',
          {
            link: opts.name,
            error: e.message,
            inARow,
          },
        );
      },
    },
    opts.timers,
    opts.random,
  );
  return new SourceLink({
    name: opts.name,
    capabilities: ELECTRUM_CAPABILITIES,
    source,
    ctx,
    maxHeaders: opts.maxHeaders ?? 2016,
    maxScanBack: opts.maxScanBack,
  });
}

/**
 * Config factory: `link.<name>.type=electrum` with the options of ELECTRUM_OPTIONS (options.ts).
 */
export function create(options: Record<string, string>, ctx: LinkContext): Link {
  const o = readLinkOptions(options, 'electrum', 'electrum', ELECTRUM_OPTIONS);
  const { host, port } = o.must<HostPort>('server');
  const useTls = o.must<boolean>('tls');
  if (!useTls && (o.has('ca') || o.has('fingerprint'))) {
    throw o.error(o.has('ca') ? 'ca' : 'fingerprint', `.ca and .fingerprint need link.${o.name}.tls=1`);
  }
  return createElectrumLink(
    {
      name: o.name,
      host,
      port,
      tls: useTls,
      ca: readPemOption(o, 'ca'),
      proxy: readProxyOption(o),
      fingerprint: o.string('fingerprint'),
      servername: o.string('servername'),
      timeoutMs: o.must<number>('timeout'),
      pingIntervalMs: o.must<number>('ping'),
      maxHeaders: o.must<number>('maxheaders'),
      maxScanBack: o.must<number>('scanback'),
    },
    ctx,
  );
}
