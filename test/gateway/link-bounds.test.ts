// Bounds on link processes: more links than maxlinks is refused at start-up with a clear config
// error and nothing started; each driver process runs under a heap limit (--max-old-space-size),
// so a leaking driver dies and is restarted while the daemon and the other links go on.
import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { resolve } from 'node:path';
import { NETWORKS } from '../../src/chain/networks.js';
import { Gateway, type LinkSpec } from '../../src/gateway/gateway.js';
import { AltnetError } from '../../src/util/errors.js';
import { memoryLogger } from '../../src/util/log.js';
import { freePort } from '../harness/bitcoind.js';
import { REPO_ROOT, SHARED_DATA } from '../harness/data.js';
import { until } from '../helpers/wait.js';

const DRIVER = resolve(REPO_ROOT, 'test/fixtures/drivers/scripted.mjs');
const link = (name: string, behavior: string): LinkSpec => ({
  name,
  type: 'module',
  options: { path: DRIVER, behavior, file: SHARED_DATA.genesisEraHeaders, count: '10' },
});

describe('link process bounds', () => {
  let gw: Gateway | undefined;
  afterAll(async () => {
    await gw?.stop();
  });

  it('refuses more links than maxlinks at start-up, starting nothing', async () => {
    const port = await freePort();
    const err = await Gateway.start({
      network: NETWORKS.main,
      checkpoint: null,
      listen: { host: '127.0.0.1', port },
      links: [link('a', 'headers'), link('b', 'headers'), link('c', 'headers')],
      log: memoryLogger(),
      maxLinks: 2,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AltnetError);
    expect((err as AltnetError).code).toBe('too-many-links');
    expect((err as Error).message).toMatch(/3 links are configured but maxlinks=2/);
    // Nothing listens on the node port.
    const refused = await new Promise<boolean>((res) => {
      const s = createConnection(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), res(false)));
      s.once('error', () => res(true));
    });
    expect(refused).toBe(true);
  });

  it('runs each driver under a heap limit: a leaking driver is stopped and restarted, the others go on', async () => {
    gw = await Gateway.start({
      network: NETWORKS.main,
      checkpoint: null,
      listen: { host: '127.0.0.1', port: 0 },
      links: [link('good', 'headers'), link('hog', 'hog')],
      log: memoryLogger(),
      linkHeapMb: 32,
      linkRestartMaxMs: 1000,
    });
    await until(
      'the good link delivered',
      () => gw!.counters.get('link.good.headers_accepted') === 9,
      30_000,
      () => JSON.stringify(gw!.counters.snapshot()),
    );
    const pid = gw.link('good')!.pid!;
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    expect(cmdline).toContain('--max-old-space-size=32');
    // The leaking driver hits its 32 MB heap within a second or so, dies, and is restarted.
    await until('the hog restarted', () => gw!.link('hog')!.restarts >= 1, 30_000);
    expect(gw.link('good')!.pid).toBe(pid);
    expect(gw.link('good')!.state).toBe('up');
  });
});
