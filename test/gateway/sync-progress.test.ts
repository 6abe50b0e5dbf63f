// Header sync progress on a running gateway: a link (a scripted driver in its own process)
// claims a tip 1,000 headers ahead and delivers real mainnet headers 50 every 300 ms. The log
// says when the sync starts, every few seconds how far it is (done, target, %, rate, ETA), and
// when it is done; status carries the same.
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { NETWORKS } from '../../src/chain/networks.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/util/log.js';
import { SHARED_DATA } from '../harness/data.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/drivers/scripted.mjs', import.meta.url));

describe('header sync progress', () => {
  let gw: Gateway | undefined;
  afterAll(async () => {
    await gw?.stop();
  });

  it('logs start, progress lines with rate and ETA while syncing, and done; status shows it', { timeout: 40_000 }, async () => {
    const log = memoryLogger();
    gw = await Gateway.start({
      network: NETWORKS.main,
      listen: { host: '127.0.0.1', port: 0 },
      checkpoint: null,
      links: [
        {
          name: 'slow',
          type: 'module',
          options: {
            type: 'module',
            path: FIXTURE,
            behavior: 'trickle',
            file: SHARED_DATA.genesisEraHeaders,
            count: '1000',
            batch: '50',
            every: '300',
          },
        },
      ],
      log,
    });
    const lines = () => log.lines.filter((l) => l.includes('header sync'));
    const end = Date.now() + 30_000;
    while (!lines().some((l) => l.includes('header sync done')) && Date.now() < end) {
      if (gw.status().sync && !gw.status().sync!.finished) {
        const s = gw.status().sync!;
        expect(s.target).toBe(1000);
        expect(s.done).toBeLessThanOrEqual(1000);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    const got = lines();
    expect(got[0]).toMatch(/header sync started .*done=\d+ target=1000/);
    const progress = got.filter((l) => l.includes('header sync progress'));
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress[0]).toMatch(/done=\d+ target=1000 percent=\d+(\.\d)? perSecond=\d+ eta=\d+(s|min)/);
    expect(got.at(-1)).toMatch(/header sync done .*height=1000 /);
    expect(gw.status().sync).toMatchObject({ what: 'header sync', done: 1000, target: 1000, percent: 100, finished: true });
    expect(gw.chain.tip().height).toBe(1000);
  });
});
