import { afterEach, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { LinkSupervisor, type SupervisedLinkEvents } from '../../src/gateway/supervisor.js';
import { checkProofOfWork } from '../../src/chain/header.js';
import { NETWORKS } from '../../src/chain/networks.js';
import { Counters } from '../../src/util/counters.js';
import { memoryLogger } from '../../src/util/log.js';
import { REPO_ROOT, SHARED_DATA } from '../harness/data.js';
import { sleep } from '../harness/bitcoind.js';
import { until } from '../helpers/wait.js';

const DRIVER = resolve(REPO_ROOT, 'test/fixtures/drivers/scripted.mjs');

describe('link supervisor: one child process per driver', () => {
  const running: LinkSupervisor[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((s) => s.stop()));
  });

  function supervise(behavior: string, extra: Record<string, string> = {}) {
    const counters = new Counters();
    const log = memoryLogger();
    const got = { headers: [] as Uint8Array[][], tips: [] as number[], valid: 0, invalid: 0 };
    const events: SupervisedLinkEvents = {
      headers: (_l, raw) => {
        got.headers.push(raw);
        const ok = raw.every((h) => checkProofOfWork(h, NETWORKS.main.powLimit));
        ok ? got.valid++ : got.invalid++;
        return ok;
      },
      tx: () => {},
      tip: (_l, r) => got.tips.push(r.height),
    };
    const sup = new LinkSupervisor({
      name: 'fx',
      type: 'module',
      options: { path: DRIVER, behavior, file: SHARED_DATA.recentHeaders, ...extra },
      network: 'main',
      log,
      counters,
      events,
      backoff: { initialMs: 50, maxMs: 400 },
      invalidLimit: { count: 3, windowMs: 60_000, quarantineMs: 60_000 },
    });
    running.push(sup);
    sup.start();
    return { sup, counters, log, got };
  }

  it("relays a healthy driver's capabilities, headers and tip", async () => {
    const { sup, got } = supervise('headers', { count: '5' });
    await until('headers', () => got.headers.length > 0 && got.tips.length > 0);
    expect(got.headers[0]).toHaveLength(5);
    expect(got.valid).toBe(1);
    expect(got.tips).toEqual([4]);
    expect(sup.capabilities.carries).toEqual(['headers', 'tx']);
    sup.requestHeaders([new Uint8Array(32)]);
    await until('answer to a request', () => got.headers.length === 2);
  });

  it('restarts a driver killed with SIGKILL, with a new process', async () => {
    const { sup, got, counters } = supervise('headers', { count: '3' });
    await until('first headers', () => got.headers.length === 1);
    const firstPid = sup.pid!;
    process.kill(firstPid, 'SIGKILL');
    await until('restart', () => got.headers.length === 2);
    expect(sup.pid).not.toBe(firstPid);
    expect(counters.get('link.fx.restarts')).toBe(1);
    expect(sup.state).toBe('up');
  });

  it('kills and restarts a driver that writes garbage on the channel, counting it', async () => {
    const { counters, log } = supervise('garbage');
    await until('ipc error', () => counters.get('link.fx.ipc_errors') >= 1);
    expect(counters.get('link.fx.ipc_errors.ipc-bad-cbor')).toBeGreaterThanOrEqual(1);
    await until('restart after garbage', () => counters.get('link.fx.restarts') >= 1);
    expect(log.lines.some((l) => l.includes('malformed message'))).toBe(true);
  });

  it('refuses an oversized message before buffering it', async () => {
    const { counters } = supervise('oversize');
    await until('oversize error', () => counters.get('link.fx.ipc_errors.ipc-oversize') >= 1);
  });

  it('rejects a structurally wrong message (a 79-byte header)', async () => {
    const { counters, got } = supervise('wrongtype');
    await until('bad message', () => counters.get('link.fx.ipc_errors.ipc-bad-message') >= 1);
    expect(got.headers).toHaveLength(0);
  });

  it('quarantines a driver that keeps sending invalid-PoW headers', async () => {
    const { sup, counters, got } = supervise('badpow');
    await until('quarantine', () => sup.state === 'quarantined');
    const seen = got.headers.length;
    await sleep(200);
    // Nothing more reaches the chain while quarantined; the rest is dropped and counted.
    expect(got.headers.length).toBe(seen);
    expect(got.valid).toBe(0);
    expect(counters.get('link.fx.quarantines')).toBe(1);
    expect(sup.reason).toMatch(/^quarantined: sent invalid headers 4 times within 60 s$/);
    expect(counters.get('link.fx.ignored_quarantined')).toBeGreaterThan(0);
  });

  it('restarts a driver that crashes, with growing backoff', async () => {
    const { counters, sup } = supervise('crash');
    await until('two restarts', () => counters.get('link.fx.restarts') >= 2);
    expect(sup.reason).toContain('simulated crash');
  });
});
