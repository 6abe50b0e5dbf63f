// The operator's view in a real browser. A beacon gateway holds the first 120 real mainnet
// headers and sends them on two links: a simulated LoRa channel and a KISS link through two
// "TNCs" sharing a channel (a TCP hub that forwards what one TNC sends to the other, as Dire
// Wolf's KISS TCP port would). A receive-only gateway listens on both, serves its status page
// on loopback, and has alertnotify and alertwebhook set. Headless Debian chromium, driven over
// the DevTools protocol, loads the page and watches it refresh itself while the test:
//   1. lets the receiver sync: both links up, chain at 300, no anomalies;
//   2. switches the TNCs off: the KISS link goes down with the reason on the page, then
//      link-silent appears (three 1 s heartbeats without a frame); alertnotify fires once;
//   3. switches them on again: the link comes back up, frames arrive, link-silent clears and
//      the history shows both events; alertnotify fires once more, the webhook got both.
// Screenshots of each step are kept in test-artifacts/status-page/.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NETWORKS } from '../../src/chain/networks.js';
import type { Gateway, GatewayOptions } from '../../src/gateway/gateway.js';
import { startTestGateway } from '../harness/gateway.js';
import type { SimAir } from '../../src/links/sim/air.js';
import { memoryLogger } from '../../src/util/log.js';
import { Chromium } from '../harness/chromium.js';
import { REPO_ROOT, SHARED_DATA } from '../harness/data.js';
import { KissHub } from '../emulators/kiss-hub.js';
import { until } from '../helpers/wait.js';
import { startTestAir } from '../harness/air.js';

const ARTIFACTS = resolve(process.env.ALTNET_TEST_ARTIFACTS ?? join(REPO_ROOT, 'test-artifacts'), 'status-page');
// Within the beacon carousel's reach (144 below the tip), so the receiver can sync from genesis.
const HEADERS = 120;

describe('status page in headless chromium: a link goes down, link-silent appears and clears', () => {
  const logs = { beacon: memoryLogger(), receiver: memoryLogger() };
  const dir = mkdtempSync(join(tmpdir(), 'altnet-statuspage-'));
  const alertFile = join(dir, 'alerts.txt');
  const hooks: any[] = [];
  let hook: Server;
  let air: SimAir;
  let hub: KissHub;
  let beacon: Gateway;
  let receiver: Gateway;
  let browser: Chromium;
  const alerts = () => (existsSync(alertFile) ? readFileSync(alertFile, 'utf8').split('\n').filter(Boolean) : []);
  const diag = () => `receiver log:\n${logs.receiver.lines.slice(-25).join('\n')}`;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        hooks.push(JSON.parse(body));
        res.end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const testAir = await startTestAir({ seed: 3 });
    air = testAir.air;
    const airPort = testAir.port;
    hub = new KissHub();
    const hubPort = await hub.start();
    // Each gateway has a sim LoRa link and a KISS link to the hub, transmitting (beacon) or not.
    const start = (mode: 'beacon' | 'receive-only', callsign: string, extra: Partial<GatewayOptions> = {}) => {
      const direction = mode === 'beacon' ? 'tx' : 'rx';
      return startTestGateway({
        network: NETWORKS.main,
        mode,
        heartbeatMs: 1000,
        links: [
          { name: 'lora0', type: 'sim', options: { type: 'sim', air: `127.0.0.1:${airPort}`, sf: '7', dutycycle: '0.1', direction } },
          { name: 'hf0', type: 'kiss', options: { type: 'kiss', board: 'direwolf', tcp: `127.0.0.1:${hubPort}`, callsign, direction } },
        ],
        log: mode === 'beacon' ? logs.beacon : logs.receiver,
        ...extra,
      });
    };
    beacon = await start('beacon', 'N0CALL-1');
    const file = new Uint8Array(readFileSync(SHARED_DATA.genesisEraHeaders));
    const headers = Array.from({ length: HEADERS }, (_, i) => file.subarray((i + 1) * 80, (i + 2) * 80));
    expect(beacon.router.onLinkHeaders('file', headers).accepted).toBe(HEADERS);

    receiver = await start('receive-only', 'N0CALL-2', {
      status: { host: '127.0.0.1', port: 0 },
      alertNotify: `echo "$ALTNET_ALERT_EVENT" %s >> ${alertFile}`,
      alertWebhook: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/altnet`,
      alertClearHoldMs: 0,
    });
    browser = await Chromium.launch(`http://127.0.0.1:${receiver.statusPort}/`, { width: 1200, height: 900 });
  });

  afterAll(async () => {
    await browser?.close();
    await Promise.allSettled([beacon?.stop(), receiver?.stop()]);
    await Promise.allSettled([air?.close(), hub?.stop()]);
    hook?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows the synced receiver: both links up, the chain at 120, no anomalies', { timeout: 60_000 }, async () => {
    const text = await browser.waitForText(
      'the synced receiver',
      (t) => /height 120\b/.test(t) && /hf0\s+kiss\s+rx\s+up/.test(t) && /lora0\s+sim\s+rx\s+up/.test(t),
      45_000,
    );
    expect(text).toContain('no anomalies');
    expect(text).toMatch(/last frame heard \d+ s ago/);
    expect(receiver.status().chain.height).toBe(HEADERS);
    expect(await browser.evaluate<string>('document.title')).toBe('altnet status');
    await browser.screenshot(join(ARTIFACTS, '1-synced.png'));
    expect(alerts()).toEqual([]);
  });

  it('the TNCs switched off: the page shows the KISS link down with its reason, then link-silent', { timeout: 60_000 }, async () => {
    await hub.stop();
    const down = await browser.waitForText('hf0 down', (t) => /hf0\s+kiss\s+rx\s+down/.test(t), 20_000);
    // The reason is on the page, not only in the log.
    expect(down).toMatch(/hf0\s+kiss\s+rx\s+down\s+\S.*(ECONNREFUSED|closed|reset|ended)/i);
    expect(receiver.status().links.find((l) => l.name === 'hf0')!.lastFailure).not.toBe('');
    const silent = await browser.waitForText('link-silent', (t) => /1 anomaly: link-silent/.test(t), 20_000);
    expect(silent).toMatch(/link hf0 has heard no frame for \d+ s although its beacon repeats the tip every 1 s/);
    // lora0 still hears the beacon: only hf0 is silent.
    expect(receiver.status().anomalies.map((a) => a.key)).toEqual(['link-silent:hf0']);
    expect(await browser.evaluate<string>('document.title')).toBe('⚠ altnet status');
    await browser.screenshot(join(ARTIFACTS, '2-link-down-anomaly.png'));
    await until('alertnotify ran', () => alerts().length === 1, 10_000, diag);
    expect(alerts()[0]).toMatch(
      /^raised altnet main: link-silent raised: link hf0 has heard no frame for \d+ s although its beacon repeats the tip every 1 s: no signal/,
    );
  });

  it(
    'the TNCs back on: the link comes up, link-silent clears, the history keeps both events; one alert each way',
    { timeout: 60_000 },
    async () => {
      await hub.start(hub.port);
      const back = await browser.waitForText(
        'hf0 up and no anomalies',
        (t) => /hf0\s+kiss\s+rx\s+up/.test(t) && t.includes('no anomalies'),
        40_000,
      );
      expect(back).toMatch(/History[\s\S]*cleared\s+link-silent:hf0[\s\S]*raised\s+link-silent:hf0/);
      await browser.screenshot(join(ARTIFACTS, '3-recovered.png'));
      await until('alertnotify ran for the recovery', () => alerts().length === 2, 10_000, diag);
      await new Promise((r) => setTimeout(r, 1500));
      const got = alerts();
      expect(got).toHaveLength(2);
      expect(got[1]).toMatch(/^cleared altnet main: link-silent cleared after \d+ s: link hf0/);
      await until('both webhook posts', () => hooks.length === 2, 10_000);
      expect(hooks.map((h) => `${h.event}:${h.key}`)).toEqual(['raised:link-silent:hf0', 'cleared:link-silent:hf0']);
      // The beacon's duty-cycled LoRa link (10 %) reports its airtime window.
      const radio = beacon.status().links.find((l) => l.name === 'lora0')!.radio!;
      expect(radio.airtimeBudgetMs).toBe(360_000);
      expect(radio.airtimeWindowMs).toBe(3_600_000);
      expect(radio.airtimeUsedMs).toBeGreaterThan(0);
      // The beacon's heartbeat: the tip alone, at least every second, on both links, besides the carousel.
      for (const l of beacon.status().links) expect(l.counters.tips_tx ?? 0, l.name).toBeGreaterThanOrEqual(5);
      // /status.json serves the same for programs.
      const json = await browser.evaluate<string>(`fetch('/status.json').then(r => r.text())`);
      const status = JSON.parse(json);
      expect(status.anomalies).toEqual([]);
      expect(status.anomalyHistory.map((e: any) => e.event)).toEqual(['raised', 'cleared']);
      expect(status.links.map((l: any) => [l.name, l.state])).toEqual([
        ['lora0', 'up'],
        ['hf0', 'up'],
      ]);
    },
  );
});
