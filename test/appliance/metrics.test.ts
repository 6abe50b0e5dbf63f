import { describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { METRICS_CONTENT_TYPE, renderPrometheus, sanitizeMetricName, startMetricsServer } from '../../src/gateway/metrics.js';
import { Counters } from '../../src/util/counters.js';
import { ConfigError } from '../../src/util/errors.js';
import { memoryLogger, silentLogger } from '../../src/util/log.js';

/**
 * Checks text against the exposition format rules a Prometheus server enforces: metric and label
 * name syntax, HELP/TYPE before samples, one TYPE per family, counters ending in _total, no
 * duplicate series, values that parse. Returns the samples.
 */
function parseExposition(text: string): Map<string, number> {
  expect(text.endsWith('\n')).toBe(true);
  const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
  const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\n"])*"';
  const sampleRe = new RegExp(`^(${NAME})(\\{${LABEL}(?:,${LABEL})*\\})? (NaN|[+-]Inf|-?[0-9.]+(?:e[+-]?[0-9]+)?)$`);
  const types = new Map<string, string>();
  const helped = new Set<string>();
  const samples = new Map<string, number>();
  for (const line of text.slice(0, -1).split('\n')) {
    let m: RegExpExecArray | null;
    if ((m = new RegExp(`^# HELP (${NAME}) (.*)$`).exec(line))) {
      expect(helped.has(m[1]), `second HELP for ${m[1]}`).toBe(false);
      helped.add(m[1]);
    } else if ((m = new RegExp(`^# TYPE (${NAME}) (counter|gauge)$`).exec(line))) {
      expect(types.has(m[1]), `second TYPE for ${m[1]}`).toBe(false);
      types.set(m[1], m[2]);
    } else if ((m = sampleRe.exec(line))) {
      const type = types.get(m[1]);
      expect(type, `sample ${m[1]} before its TYPE`).toBeDefined();
      if (type === 'counter') expect(m[1]).toMatch(/_total$/);
      const key = m[1] + (m[2] ?? '');
      expect(samples.has(key), `duplicate series ${key}`).toBe(false);
      samples.set(key, Number(m[3].replace('+Inf', 'Infinity').replace('-Inf', '-Infinity')));
    } else {
      throw new Error(`not valid exposition format: ${JSON.stringify(line)}`);
    }
  }
  return samples;
}

describe('renderPrometheus', () => {
  it('turns link names into labels, adds _total to counters, and gives HELP and TYPE once per family', () => {
    const c = new Counters();
    c.scoped('link.lora0.').inc('frames_rx', 7);
    c.scoped('link.kiss-1.').inc('frames_rx', 2);
    c.scoped('link.lora0.').inc('bad_frames');
    c.inc('node.headers_sent', 12);
    c.inc('config-unknown-key');
    c.set('link.lora0.queue_len', 3);
    const text = renderPrometheus(c.snapshot(), {
      gaugeNames: ['link.*.queue_len'],
      gauges: { 'node.height': 830000, uptime_seconds: 12.5 },
      help: { 'link.*.frames_rx': 'Frames received from the link, before validation.' },
      info: { version: '0.1.0', network: 'main' },
    });
    const s = parseExposition(text);
    expect(s.get('altnet_link_frames_rx_total{link="lora0"}')).toBe(7);
    expect(s.get('altnet_link_frames_rx_total{link="kiss-1"}')).toBe(2);
    expect(s.get('altnet_link_bad_frames_total{link="lora0"}')).toBe(1);
    expect(s.get('altnet_node_headers_sent_total')).toBe(12);
    expect(s.get('altnet_config_unknown_key_total')).toBe(1);
    expect(s.get('altnet_link_queue_len{link="lora0"}')).toBe(3);
    expect(s.get('altnet_node_height')).toBe(830000);
    expect(s.get('altnet_uptime_seconds')).toBe(12.5);
    expect(s.get('altnet_info{version="0.1.0",network="main"}')).toBe(1);
    expect(text).toContain(
      '# HELP altnet_link_frames_rx_total Frames received from the link, before validation.\n# TYPE altnet_link_frames_rx_total counter\n',
    );
    expect(text).toContain('# TYPE altnet_link_queue_len gauge\n');
  });

  it('escapes label values and help text, and keeps odd names valid', () => {
    const text = renderPrometheus(
      { 'link.we"ird\\na\nme.rx': 1, '9lives.x-y z': 2, already_total: 3, 'inf.thing': Infinity },
      { gauges: { 'not.a.number': NaN }, help: { 'inf.thing': 'line one\nline two \\ end' } },
    );
    const s = parseExposition(text);
    expect(s.get('altnet_link_rx_total{link="we\\"ird\\\\na\\nme"}')).toBe(1);
    expect(s.get('altnet_9lives_x_y_z_total')).toBe(2);
    expect(s.get('altnet_already_total')).toBe(3);
    expect(s.get('altnet_inf_thing_total')).toBe(Infinity);
    expect(Number.isNaN(s.get('altnet_not_a_number'))).toBe(true);
    expect(text).toContain('# HELP altnet_inf_thing_total line one\\nline two \\\\ end\n');
  });

  it('never emits one series twice, even when two names sanitise alike', () => {
    const s = parseExposition(renderPrometheus({ 'a.b': 1, 'a-b': 2, a_b: 4 }));
    expect(s.get('altnet_a_b_total')).toBe(7);
    // A gauge and a counter colliding on a name get separate families.
    const t = parseExposition(renderPrometheus({ x_total: 1 }, { gauges: { x_total: 5 } }));
    expect(t.get('altnet_x_total')).toBe(1);
    expect(t.get('altnet_x_total_gauge')).toBe(5);
  });

  it('sanitises names to Prometheus rules', () => {
    expect(sanitizeMetricName('link.lora0.frames-rx')).toBe('link_lora0_frames_rx');
    expect(sanitizeMetricName('0abc')).toBe('_0abc');
    expect(sanitizeMetricName('a..b')).toBe('a_b');
  });

  it('renders nothing for nothing', () => {
    expect(renderPrometheus({})).toBe('');
  });
});

function get(port: number, path: string, method = 'GET', host = '127.0.0.1'): Promise<{ status: number; type?: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('startMetricsServer', () => {
  it('serves live counters on loopback at /metrics', async () => {
    const counters = new Counters();
    const log = memoryLogger();
    let height = 100;
    const server = await startMetricsServer({
      host: '127.0.0.1',
      port: 0,
      counters,
      log,
      meta: () => ({ gauges: { 'node.height': height } }),
    });
    try {
      counters.scoped('link.lora0.').inc('frames_rx', 3);
      let r = await get(server.port, '/metrics');
      expect(r.status).toBe(200);
      expect(r.type).toBe(METRICS_CONTENT_TYPE);
      expect(parseExposition(r.body).get('altnet_link_frames_rx_total{link="lora0"}')).toBe(3);
      counters.scoped('link.lora0.').inc('frames_rx');
      height = 101;
      r = await get(server.port, '/metrics');
      const s = parseExposition(r.body);
      expect(s.get('altnet_link_frames_rx_total{link="lora0"}')).toBe(4);
      expect(s.get('altnet_node_height')).toBe(101);
      expect((await get(server.port, '/nope')).status).toBe(404);
      expect((await get(server.port, '/metrics', 'POST')).status).toBe(405);
      expect(log.lines.some((l) => l.includes('metrics listening'))).toBe(true);
    } finally {
      await server.close();
    }
    await expect(get(server.port, '/metrics')).rejects.toThrow();
  });

  it('serves on IPv6 loopback too', async () => {
    const server = await startMetricsServer({ host: '::1', port: 0, counters: new Counters(), log: silentLogger() });
    try {
      expect((await get(server.port, '/metrics', 'GET', '::1')).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it.each(['0.0.0.0', '::', '192.168.1.10', 'example.org'])('refuses to listen on %s', async (host) => {
    const err = await startMetricsServer({ host, port: 0, counters: new Counters(), log: silentLogger() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('metrics-not-loopback');
  });
});

describe('metric types, labels and HELP (issue 15)', () => {
  it('a value written with set() is a gauge without _total; a name is never exported as both kinds', () => {
    const c = new Counters();
    c.scoped('chain.').set('height', 830_000);
    c.scoped('outbox.').set('pending', 2);
    c.scoped('outbox.').set('pending', 1); // went down: a gauge may
    c.inc('chain.accepted', 5);
    const text = renderPrometheus(c.snapshot(), { gaugeNames: c.gaugeNames(), gauges: { 'chain.height': 830_001 } });
    const s = parseExposition(text);
    expect(s.get('altnet_chain_height')).toBe(830_001);
    expect(s.get('altnet_outbox_pending')).toBe(1);
    expect(s.get('altnet_chain_accepted_total')).toBe(5);
    expect(text).not.toMatch(/altnet_chain_height_total|altnet_outbox_pending_total|altnet_chain_height_gauge/);
    expect(text).toContain('# TYPE altnet_outbox_pending gauge\n');
    expect(text).toContain('# HELP altnet_chain_height Height of the best valid header chain altnet holds.\n');
  });

  it('turns the variable part of a name into a label (command, code, kind)', () => {
    const c = new Counters();
    c.inc('node.msg_in.headers', 3);
    c.inc('node.msg_in.ping');
    c.inc('watchdog.raised.stale-tip');
    c.inc('link.lora0.invalid.bad-pow', 2);
    const s = parseExposition(renderPrometheus(c.snapshot()));
    expect(s.get('altnet_node_msg_in_total{command="headers"}')).toBe(3);
    expect(s.get('altnet_node_msg_in_total{command="ping"}')).toBe(1);
    expect(s.get('altnet_watchdog_raised_total{kind="stale-tip"}')).toBe(1);
    expect(s.get('altnet_link_invalid_total{link="lora0",code="bad-pow"}')).toBe(2);
  });

  it('HELP says what a number means; an undescribed one says so instead of filler', () => {
    const c = new Counters();
    c.inc('link.lora0.headers_accepted');
    c.inc('some.new_thing');
    const text = renderPrometheus(c.snapshot());
    expect(text).toContain('# HELP altnet_link_headers_accepted_total Headers from the link that were new and valid and joined the chain.');
    expect(text).toContain('# HELP altnet_some_new_thing_total Count "some.new_thing" from altnet\'s counters (no description yet');
    expect(text).not.toMatch(/# HELP \S+ altnet (counter|gauge) /);
  });

  it('renders given families with their own labels (per-process memory) and extra store values', () => {
    const text = renderPrometheus(
      { 'link.m.headers_rx': 1 },
      {
        values: { 'link.m.frames_rx': 7, 'link.m.headers_rx': 99 },
        families: [
          {
            name: 'process_resident_memory_bytes',
            type: 'gauge',
            help: 'RSS.',
            samples: [
              { labels: { process: 'main' }, value: 5e7 },
              { labels: { process: 'link:m' }, value: 4e7 },
            ],
          },
        ],
      },
    );
    const s = parseExposition(text);
    expect(s.get('altnet_process_resident_memory_bytes{process="main"}')).toBe(5e7);
    expect(s.get('altnet_process_resident_memory_bytes{process="link:m"}')).toBe(4e7);
    expect(s.get('altnet_link_frames_rx_total{link="m"}')).toBe(7);
    expect(s.get('altnet_link_headers_rx_total{link="m"}')).toBe(1); // the main store wins
  });

  it('a metrics port in use is refused naming metrics=', async () => {
    const first = await startMetricsServer({ host: '127.0.0.1', port: 0, counters: new Counters(), log: silentLogger() });
    try {
      const err = await startMetricsServer({ host: '127.0.0.1', port: first.port, counters: new Counters(), log: silentLogger() }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).code).toBe('metrics-port-in-use');
      expect((err as Error).message).toBe(
        `metrics=127.0.0.1:${first.port}: port ${first.port} is already in use by another program (another altnet, or a Prometheus exporter); set metrics= to a free port, e.g. metrics=127.0.0.1:${first.port + 1}, or metrics=off`,
      );
    } finally {
      await first.close();
    }
  });
});

describe('driver counters over IPC say which are gauges', () => {
  it('accepts gauges naming carried values, refuses anything else', async () => {
    const { parseChildMessage } = await import('../../src/gateway/ipc.js');
    expect(parseChildMessage({ t: 'counters', values: { a: 1, 'process.rss_bytes': 5 }, gauges: ['process.rss_bytes'] })).toEqual({
      t: 'counters',
      values: { a: 1, 'process.rss_bytes': 5 },
      gauges: ['process.rss_bytes'],
    });
    expect(() => parseChildMessage({ t: 'counters', values: { a: 1 }, gauges: ['b'] })).toThrow(/gauges/);
    expect(() => parseChildMessage({ t: 'counters', values: { a: 1 }, gauges: 'a' })).toThrow(/gauges/);
  });
});
