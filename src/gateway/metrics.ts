// Prometheus text exposition (format 0.0.4) of the daemon's counters, served on loopback only.
// Counter names in the store look like `link.lora0.frames_rx` or `node.headers_sent`; the link
// name becomes a label, so one family (`altnet_link_frames_rx_total`) covers every link.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Counters } from '../util/counters.js';
import { ConfigError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { isLoopback } from '../util/net.js';

export interface MetricsMeta {
  /** Prefix of every family; default `altnet`. */
  namespace?: string;
  /**
   * Store names that are gauges (set, not incremented), as exact names or with the link name
   * replaced by `*` (`link.*.queue_len`). Everything else is a counter.
   */
  gaugeNames?: readonly string[];
  /** Gauges computed at scrape time (uptime, node height...), same naming rules. */
  gauges?: Record<string, number>;
  /** HELP text by store name with `*` for the link (`link.*.frames_rx`) or by family name. */
  help?: Record<string, string>;
  /** Constant labels for an `<ns>_info` gauge of value 1 (version, network). */
  info?: Record<string, string>;
}

interface Sample {
  labels: Array<[string, string]>;
  value: number;
}

interface Family {
  name: string;
  type: 'counter' | 'gauge';
  help: string;
  samples: Map<string, Sample>;
}

/** Replaces what Prometheus names may not contain; a leading digit gets an underscore. */
export function sanitizeMetricName(s: string): string {
  let out = s.replace(/[^a-zA-Z0-9_:]/g, '_').replace(/_+/g, '_');
  if (/^[0-9]/.test(out)) out = '_' + out;
  return out;
}

function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** `link.lora0.frames_rx` -> { pattern: 'link.*.frames_rx', base: 'link.frames_rx', link: 'lora0' }. */
function splitLink(name: string): { pattern: string; base: string; link?: string } {
  const m = /^link\.([^.]+)\.(.+)$/.exec(name);
  if (!m) return { pattern: name, base: name };
  return { pattern: `link.*.${m[2]}`, base: `link.${m[2]}`, link: m[1] };
}

/** Renders a Counters snapshot (plus gauges) as Prometheus text. Pure. */
export function renderPrometheus(snapshot: Record<string, number>, meta: MetricsMeta = {}): string {
  const ns = sanitizeMetricName(meta.namespace ?? 'altnet');
  const gaugeNames = new Set(meta.gaugeNames ?? []);
  const families = new Map<string, Family>();

  const add = (storeName: string, value: number, forceGauge: boolean): void => {
    if (typeof value !== 'number') return;
    const { pattern, base, link } = splitLink(storeName);
    const isGauge = forceGauge || gaugeNames.has(storeName) || gaugeNames.has(pattern);
    let name = sanitizeMetricName(`${ns}_${base}`);
    if (!isGauge && !name.endsWith('_total')) name += '_total';
    // A counter and a gauge that sanitise to one name cannot share a family.
    let fam = families.get(name);
    if (fam && fam.type !== (isGauge ? 'gauge' : 'counter')) {
      name = `${name}_${isGauge ? 'gauge' : 'counter'}`;
      fam = families.get(name);
    }
    if (!fam) {
      const help =
        meta.help?.[storeName] ?? meta.help?.[pattern] ?? meta.help?.[name] ?? `altnet ${isGauge ? 'gauge' : 'counter'} ${pattern}`;
      families.set(name, (fam = { name, type: isGauge ? 'gauge' : 'counter', help, samples: new Map() }));
    }
    const labels: Array<[string, string]> = link !== undefined ? [['link', link]] : [];
    const key = labels.map(([k, v]) => `${k}=${v}`).join(',');
    const existing = fam.samples.get(key);
    // Two store names that differ only in characters Prometheus forbids: counters add up.
    if (existing) existing.value = fam.type === 'counter' ? existing.value + value : value;
    else fam.samples.set(key, { labels, value });
  };

  for (const [k, v] of Object.entries(snapshot)) add(k, v, false);
  for (const [k, v] of Object.entries(meta.gauges ?? {})) add(k, v, true);

  const lines: string[] = [];
  if (meta.info && Object.keys(meta.info).length > 0) {
    const name = `${ns}_info`;
    const labels = Object.entries(meta.info)
      .map(([k, v]) => `${sanitizeLabelName(k)}="${escapeLabelValue(v)}"`)
      .join(',');
    lines.push(`# HELP ${name} Constant 1; the labels describe this altnet.`, `# TYPE ${name} gauge`, `${name}{${labels}} 1`);
  }
  for (const fam of [...families.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    lines.push(`# HELP ${fam.name} ${escapeHelp(fam.help)}`);
    lines.push(`# TYPE ${fam.name} ${fam.type}`);
    const samples = [...fam.samples.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, s]) => s);
    for (const s of samples) {
      const labels = s.labels.length ? `{${s.labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',')}}` : '';
      lines.push(`${fam.name}${labels} ${formatValue(s.value)}`);
    }
  }
  return lines.length ? lines.join('\n') + '\n' : '';
}

function sanitizeLabelName(s: string): string {
  let out = s.replace(/[^a-zA-Z0-9_]/g, '_');
  if (/^[0-9]/.test(out)) out = '_' + out;
  if (out.startsWith('__')) out = 'x' + out; // `__` is reserved for Prometheus itself
  return out;
}

export interface MetricsServerOptions {
  host: string;
  /** 0 picks a free port (tests); the chosen one is returned. */
  port: number;
  counters: Counters;
  log: Logger;
  /** Called at every scrape for gauges and labels that are computed, not counted. */
  meta?: () => MetricsMeta;
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Serves GET /metrics on a loopback address. Refuses any other address. */
export async function startMetricsServer(opts: MetricsServerOptions): Promise<MetricsServer> {
  if (!isLoopback(opts.host)) {
    throw new ConfigError(
      'metrics-not-loopback',
      `metrics address ${opts.host} is not loopback; metrics are served on 127.0.0.1 or ::1 only (scrape them through an SSH tunnel or a local Prometheus)`,
    );
  }
  const log = opts.log.child('metrics');
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    if (path !== '/metrics' && path !== '/') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found; try /metrics\n');
      return;
    }
    let body: string;
    try {
      body = renderPrometheus(opts.counters.snapshot(), opts.meta?.() ?? {});
    } catch (err) {
      log.error('rendering metrics failed', { error: (err as Error).message });
      res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n');
      return;
    }
    res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE, 'content-length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  // A scraper that never finishes its request must not pin a socket forever.
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  server.maxHeadersCount = 50;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => log.error('metrics server error', { error: err.message }));
  const port = (server.address() as AddressInfo).port;
  log.info('metrics listening', { url: `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}/metrics` });
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
