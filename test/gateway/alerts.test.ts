// alertnotify / alertwebhook: the message reaches a real /bin/sh only as one literal word,
// each anomaly notifies once when raised and once when it has stayed clear, flapping inside
// the hold notifies nothing, and the webhook gets the same event as JSON.
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Alerter, alertCommandLine, checkWebhookUrl, shellSafeMessage } from '../../src/gateway/alerts.js';
import { Counters } from '../../src/util/counters.js';
import { memoryLogger } from '../../src/util/log.js';
import type { Anomaly } from '../../src/watchdog/watchdog.js';
import { execFileSync } from 'node:child_process';
import { until } from '../helpers/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'altnet-alerts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const lines = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);

const anomaly = (detail = 'node tip is 120 min old'): Anomaly => ({
  kind: 'stale-tip',
  key: 'stale-tip',
  since: Math.floor(Date.now() / 1000) - 60,
  detail,
});

describe('shell safety of the alert message', () => {
  const hostile = `x'; touch ${dir}/pwned; echo "$(touch ${dir}/pwned2)" \`touch ${dir}/pwned3\` \\ $HOME\nnext line`;

  it('keeps only safe characters and single-quotes them', () => {
    const q = shellSafeMessage(hostile);
    expect(q.startsWith("'") && q.endsWith("'")).toBe(true);
    expect(q.slice(1, -1)).not.toMatch(/['"`$\\\n|&<>]/);
    expect(q).toContain('next line');
  });

  it('a hostile message run through a real /bin/sh, bare and inside double quotes, stays one literal word', () => {
    for (const template of ['printf "%s\\n" %s', 'printf "%s\\n" "%s"']) {
      const out = execFileSync('/bin/sh', ['-c', alertCommandLine(template, hostile)], { encoding: 'utf8' });
      expect(out.trim().split('\n')).toHaveLength(1);
      expect(out).toContain('touch');
    }
    expect(existsSync(join(dir, 'pwned'))).toBe(false);
    expect(existsSync(join(dir, 'pwned2'))).toBe(false);
    expect(existsSync(join(dir, 'pwned3'))).toBe(false);
  });

  it('webhook URLs must be http or https', () => {
    expect(() => checkWebhookUrl('file:///etc/passwd')).toThrow(/only http/);
    expect(() => checkWebhookUrl('not a url')).toThrow(/not a URL/);
    expect(checkWebhookUrl('http://127.0.0.1:1/x').port).toBe('1');
  });
});

describe('Alerter', () => {
  it('alertnotify fires once when an anomaly is raised and once when it clears, however often the watchdog repeats itself', async () => {
    const file = join(dir, 'once.log');
    const counters = new Counters();
    const a = new Alerter({
      notify: `echo "$ALTNET_ALERT_EVENT" %s >> ${file}`,
      network: 'regtest',
      log: memoryLogger(),
      counters,
      clearHoldMs: 0,
    });
    a.onAnomaly(anomaly(), 'raised');
    a.onAnomaly(anomaly('node tip is 130 min old'), 'raised');
    await until('lines(file).length === 1', () => lines(file).length === 1);
    a.onAnomaly(anomaly(), 'cleared');
    a.onAnomaly(anomaly(), 'cleared');
    await until('lines(file).length === 2', () => lines(file).length === 2);
    await sleep(200);
    const got = lines(file);
    expect(got).toHaveLength(2);
    expect(got[0]).toMatch(/^raised altnet regtest: stale-tip raised: node tip is 120 min old$/);
    expect(got[1]).toMatch(/^cleared altnet regtest: stale-tip cleared after \d+ s: /);
    expect(counters.get('notify_sent')).toBe(2);
    await a.stop();
  });

  it('an anomaly back within the hold is the same incident: no clear, no second raise; it clears once it stays clear', async () => {
    const file = join(dir, 'flap.log');
    const counters = new Counters();
    const a = new Alerter({ notify: `echo %s >> ${file}`, network: 'main', log: memoryLogger(), counters, clearHoldMs: 300 });
    a.onAnomaly(anomaly(), 'raised');
    await until('lines(file).length === 1', () => lines(file).length === 1);
    for (let i = 0; i < 3; i++) {
      a.onAnomaly(anomaly(), 'cleared');
      await sleep(50);
      a.onAnomaly(anomaly(), 'raised');
    }
    await sleep(500);
    expect(lines(file)).toHaveLength(1);
    expect(counters.get('suppressed.flap')).toBe(3);
    a.onAnomaly(anomaly(), 'cleared');
    await until('lines(file).length === 2', () => lines(file).length === 2);
    expect(lines(file)[1]).toContain('cleared');
    await a.stop();
  });

  it('at most maxPerHour notifications per anomaly', async () => {
    const file = join(dir, 'rate.log');
    const counters = new Counters();
    const a = new Alerter({ notify: `echo %s >> ${file}`, network: 'main', log: memoryLogger(), counters, clearHoldMs: 0, maxPerHour: 2 });
    for (let i = 0; i < 4; i++) {
      a.onAnomaly(anomaly(), 'raised');
      a.onAnomaly(anomaly(), 'cleared');
    }
    await sleep(400);
    expect(lines(file)).toHaveLength(2);
    expect(counters.get('suppressed.rate')).toBeGreaterThan(0);
    await a.stop();
  });

  it('a failing command is counted and logged, never thrown', async () => {
    const counters = new Counters();
    const log = memoryLogger();
    const a = new Alerter({ notify: 'exit 3', network: 'main', log, counters, clearHoldMs: 0 });
    a.onAnomaly(anomaly(), 'raised');
    await until("counters.get('notify_failures') === 1", () => counters.get('notify_failures') === 1);
    expect(log.lines.some((l) => l.includes('alertnotify command failed'))).toBe(true);
    await a.stop();
  });

  it('alertwebhook POSTs the event as JSON to a loopback server', async () => {
    const got: any[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        got.push({ method: req.method, type: req.headers['content-type'], body: JSON.parse(body) });
        res.end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const counters = new Counters();
    const a = new Alerter({ webhook: `http://127.0.0.1:${port}/hook`, network: 'signet', log: memoryLogger(), counters, clearHoldMs: 0 });
    a.onAnomaly({ ...anomaly(), kind: 'link-silent', key: 'link-silent:lora0', link: 'lora0' }, 'raised');
    await until('got.length === 1', () => got.length === 1);
    expect(got[0].method).toBe('POST');
    expect(got[0].type).toBe('application/json');
    expect(got[0].body).toMatchObject({
      source: 'altnet',
      event: 'raised',
      kind: 'link-silent',
      key: 'link-silent:lora0',
      link: 'lora0',
      network: 'signet',
    });
    await until("counters.get('webhook_sent') === 1", () => counters.get('webhook_sent') === 1);
    await a.stop();
    server.close();
  });
});
