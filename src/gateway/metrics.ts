// Prometheus text exposition (format 0.0.4) of the daemon's counters, served on loopback only.
// Counter names in the store look like `link.lora0.frames_rx` or `node.headers_sent`; the link
// name becomes a label, so one family (`altnet_link_frames_rx_total`) covers every link, and the
// variable last part of a few families (a message command, an error code, an anomaly kind)
// becomes a label too (LABEL_RULES). A name written with Counters.set() is a gauge, anything
// else a counter (with `_total`). HELP comes from METRIC_HELP; a name not described there says
// so plainly instead of pretending.
//
// By hand, not prom-client: the values come from our own Counters store and from snapshots that
// every link's child process sends over IPC, so they are known only as name/value pairs at
// scrape time. prom-client's model is metrics declared up front in a registry, counters that
// can only be incremented (so a child's snapshot cannot be set), and default collectors for its
// own process only; mapping our snapshots onto it would mean a registry rebuilt per scrape. The
// text format is small, and test/appliance/metrics.test.ts checks our output against the rules a
// Prometheus server enforces.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Counters } from '../util/counters.js';
import { AltnetError, ConfigError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { isLoopback } from '../util/net.js';

/** A family given whole (samples with any labels), e.g. per-process memory. */
export interface ExplicitFamily {
  /** Without the namespace: `process_resident_memory_bytes`. */
  name: string;
  type: 'counter' | 'gauge';
  help: string;
  samples: Array<{ labels: Record<string, string>; value: number }>;
}

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
  /** HELP text by store name with `*` for the link (`link.*.frames_rx`) or by family name; over METRIC_HELP. */
  help?: Record<string, string>;
  /** Constant labels for an `<ns>_info` gauge of value 1 (version, network). */
  info?: Record<string, string>;
  /** Families rendered as given. */
  families?: readonly ExplicitFamily[];
  /** More store values beside the snapshot (a link driver's own counters), same naming rules. */
  values?: Record<string, number>;
}

/**
 * Store-name prefixes whose last part is a value, not a name: `node.msg_in.headers` becomes
 * `altnet_node_msg_in_total{command="headers"}`. `*` stands for a link name.
 */
export const LABEL_RULES: ReadonlyArray<{ prefix: string; label: string }> = [
  { prefix: 'node.msg_in.', label: 'command' },
  { prefix: 'node.msg_out.', label: 'command' },
  { prefix: 'node.errors.', label: 'code' },
  { prefix: 'node.evicted.', label: 'reason' },
  { prefix: 'watchdog.raised.', label: 'kind' },
  { prefix: 'watchdog.cleared.', label: 'kind' },
  { prefix: 'link.*.invalid.', label: 'code' },
  { prefix: 'link.*.ipc_errors.', label: 'code' },
  { prefix: 'link.*.errors.', label: 'code' },
  { prefix: 'link.*.recover.', label: 'code' },
];

/** HELP text by store name (`*` for the link name). What each number means, in a sentence. */
export const METRIC_HELP: Readonly<Record<string, string>> = {
  'chain.height': 'Height of the best valid header chain altnet holds.',
  'chain.side-headers': 'Valid headers kept on side branches (not on the best chain).',
  'chain.accepted': 'Headers validated and added to the chain, from any source.',
  'chain.duplicates': 'Headers received that the chain already had.',
  'chain.reorgs': 'Times the best header chain switched to another branch.',
  'node.height': "Height of the node's best header as it told altnet; -1 before a node has connected.",
  'node.connections': 'Bitcoin nodes connected to the P2P server now.',
  'node.headers_sent': 'Headers sent to the node.',
  'node.tx_sent': 'Transactions handed to the node.',
  'node.blocks_sent': 'Blocks handed to the node.',
  'node.invalid_headers': 'Headers the node sent that failed validation.',
  'node.msg_in': 'P2P messages received from the node, by command.',
  'node.msg_out': 'P2P messages sent to the node, by command.',
  'node.errors': 'Errors on node connections, by error code.',
  'node.evicted': 'Node-port connections closed by slot protection, by reason.',
  'node.connections_refused': 'Connections to the node port refused (not loopback, or over the limit).',
  'router.anycasts': 'Times headers were requested from every link at once (start, a link coming up, an anomaly).',
  'router.beacons': 'Beacon rounds: the latest headers offered to the transmit links.',
  'router.headers_to_node': 'Headers the router pushed to the node because it lacked them.',
  'watchdog.active_anomalies': 'Anomalies active now (stale tip, a link with more work, silent link, node not connected).',
  'watchdog.active': 'Anomalies active now, as the watchdog last counted them.',
  'watchdog.raised': 'Anomalies raised, by kind.',
  'watchdog.cleared': 'Anomalies cleared, by kind.',
  'outbox.pending': 'Transactions from `altnet send-tx` waiting to be seen back from the network.',
  'outbox.picked_up': 'Transactions taken from the outbox directory.',
  'outbox.sends': 'Transmissions of outbox transactions (each try on the links and to the node).',
  'outbox.done': 'Outbox transactions seen back from the network.',
  'outbox.expired': 'Outbox transactions given up after 14 days unseen.',
  uptime_seconds: 'Seconds since this gateway started.',
  'link.*.headers_rx': 'Headers received from the link, before validation.',
  'link.*.headers_accepted': 'Headers from the link that were new and valid and joined the chain.',
  'link.*.invalid_headers': 'Headers from the link rejected by validation.',
  'link.*.invalid': 'Rejected deliveries from the link, by rejection code.',
  'link.*.header_requests': 'Header requests sent to the link.',
  'link.*.tx_rx': 'Transactions received from the link.',
  'link.*.restarts': 'Times the link driver process was restarted after it stopped.',
  'link.*.exits': 'Times the link driver process exited unexpectedly.',
  'link.*.quarantines': 'Times the link was ignored for a while for sending invalid data.',
  'link.*.ipc_errors': 'Malformed messages from the link driver process, by code (the driver is restarted).',
  'link.*.dropped_while_down': 'Messages for the link dropped because its driver was not running.',
  'link.*.frames_rx': 'Radio frames received by the link driver.',
  'link.*.frames_tx': 'Radio frames transmitted by the link driver.',
  'link.*.bytes_rx': 'Bytes received by the link driver.',
  'link.*.bytes_tx': 'Bytes transmitted by the link driver.',
  'link.*.queue_length': 'Frames waiting for airtime in the link driver.',
  'link.*.deferred': 'Frames held back by the duty-cycle limit.',
  'link.*.tips_rx': 'Tip announcements received on the link.',
  'link.*.tips_tx': 'Tip announcements transmitted on the link.',
};

/** What a name lacking HELP says about itself: its origin, honestly, instead of filler. */
function fallbackHelp(pattern: string, isGauge: boolean): string {
  return `${isGauge ? 'Gauge' : 'Count'} "${pattern}" from altnet's counters (no description yet; see the code that names it).`;
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

/**
 * `link.lora0.frames_rx` -> { pattern: 'link.*.frames_rx', base: 'link.frames_rx', labels: [link=lora0] };
 * `node.msg_in.ping` -> { pattern: 'node.msg_in', base: 'node.msg_in', labels: [command=ping] }.
 */
function splitName(name: string): { pattern: string; base: string; labels: Array<[string, string]> } {
  const labels: Array<[string, string]> = [];
  let pattern = name;
  let base = name;
  const m = /^link\.([^.]+)\.(.+)$/.exec(name);
  if (m) {
    pattern = `link.*.${m[2]}`;
    base = `link.${m[2]}`;
    labels.push(['link', m[1]]);
  }
  for (const r of LABEL_RULES) {
    if (pattern.startsWith(r.prefix) && pattern.length > r.prefix.length) {
      labels.push([r.label, pattern.slice(r.prefix.length)]);
      pattern = r.prefix.slice(0, -1);
      base = r.prefix.replace('*.', '').slice(0, -1);
      break;
    }
  }
  return { pattern, base, labels };
}

/** Renders a Counters snapshot (plus gauges) as Prometheus text. Pure. */
export function renderPrometheus(snapshot: Record<string, number>, meta: MetricsMeta = {}): string {
  const ns = sanitizeMetricName(meta.namespace ?? 'altnet');
  const gaugeNames = new Set(meta.gaugeNames ?? []);
  const families = new Map<string, Family>();

  const add = (storeName: string, value: number, forceGauge: boolean): void => {
    if (typeof value !== 'number') return;
    const { pattern, base, labels } = splitName(storeName);
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
        meta.help?.[storeName] ??
        meta.help?.[pattern] ??
        meta.help?.[name] ??
        METRIC_HELP[storeName] ??
        METRIC_HELP[pattern] ??
        fallbackHelp(pattern, isGauge);
      families.set(name, (fam = { name, type: isGauge ? 'gauge' : 'counter', help, samples: new Map() }));
    }
    const key = labels.map(([k, v]) => `${k}=${v}`).join(',');
    const existing = fam.samples.get(key);
    // Two store names that differ only in characters Prometheus forbids: counters add up.
    if (existing) existing.value = fam.type === 'counter' ? existing.value + value : value;
    else fam.samples.set(key, { labels, value });
  };

  for (const [k, v] of Object.entries(snapshot)) add(k, v, false);
  for (const [k, v] of Object.entries(meta.values ?? {})) if (!(k in snapshot)) add(k, v, false);
  for (const [k, v] of Object.entries(meta.gauges ?? {})) add(k, v, true);

  const lines: string[] = [];
  if (meta.info && Object.keys(meta.info).length > 0) {
    const name = `${ns}_info`;
    const labels = Object.entries(meta.info)
      .map(([k, v]) => `${sanitizeLabelName(k)}="${escapeLabelValue(v)}"`)
      .join(',');
    lines.push(`# HELP ${name} Constant 1; the labels describe this altnet.`, `# TYPE ${name} gauge`, `${name}{${labels}} 1`);
  }
  for (const f of meta.families ?? []) {
    const name = sanitizeMetricName(`${ns}_${f.name}`);
    if (families.has(name)) continue; // the store has it already; one TYPE per family
    const fam: Family = { name, type: f.type, help: f.help, samples: new Map() };
    for (const smp of f.samples) {
      const labels = Object.entries(smp.labels).map(([k, v]) => [sanitizeLabelName(k), v] as [string, string]);
      fam.samples.set(labels.map(([k, v]) => `${k}=${v}`).join(','), { labels, value: smp.value });
    }
    families.set(name, fam);
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

/** Why the metrics port could not be opened, naming the `metrics=` setting to change. */
function listenError(host: string, port: number, err: NodeJS.ErrnoException): AltnetError {
  const at = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  if (err.code === 'EADDRINUSE') {
    return new ConfigError(
      'metrics-port-in-use',
      `metrics=${at}: port ${port} is already in use by another program (another altnet, or a Prometheus exporter); set metrics= to a free port, e.g. metrics=${host.includes(':') ? `[${host}]` : host}:${port + 1}, or metrics=off`,
      { cause: err },
    );
  }
  if (err.code === 'EACCES') {
    return new ConfigError(
      'metrics-port-denied',
      `metrics=${at}: not allowed to listen on port ${port} (ports below 1024 need privileges); set metrics= to a port above 1023`,
      { cause: err },
    );
  }
  if (err.code === 'EADDRNOTAVAIL') {
    return new ConfigError('metrics-address-unavailable', `metrics=${at}: this machine has no address ${host}; use 127.0.0.1 or ::1`, {
      cause: err,
    });
  }
  return new AltnetError('metrics-listen-failed', `metrics=${at}: cannot listen: ${err.message}`, { cause: err });
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
      const meta = opts.meta?.() ?? {};
      // Names written with Counters.set() are gauges.
      body = renderPrometheus(opts.counters.snapshot(), {
        ...meta,
        gaugeNames: [...(meta.gaugeNames ?? []), ...opts.counters.gaugeNames()],
      });
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
    server.once('error', (err: NodeJS.ErrnoException) => reject(listenError(opts.host, opts.port, err)));
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
