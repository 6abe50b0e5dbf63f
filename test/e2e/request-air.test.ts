// Request-driven catch-up between two duplex gateways (issue 17, codecs/frames.md 3.2): neither is
// a beacon, so the behind gateway learns the ahead one's chain only by asking (GETHEADERS when its
// link comes up, again after each full 64-header answer, and again when a request brought nothing:
// a request is lost when no peer is on the air yet, or when two link-up requests collide). Real
// gateways and driver processes, the real framed codec; on the simulated LoRa air, and over two
// real Dire Wolf modems joined through audio. No Bitcoin node: the ahead gateway's chain is fed
// regtest headers directly.
import { afterEach, describe, expect, it } from 'vitest';
import { NETWORKS } from '../../src/chain/networks.js';
import { headerHash } from '../../src/chain/header.js';
import { mineRun } from '../chain/helpers.js';
import { Gateway, type LinkSpec } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/util/log.js';
import { startTestAir } from '../harness/air.js';
import { direwolfMissing, startDirewolfPair, workdir } from '../emulators/direwolf.js';

/** `count` regtest headers on top of genesis, ten minutes apart (trivial proof of work). */
function mineRegtest(count: number): Uint8Array[] {
  const genesis = NETWORKS.regtest.genesisHeader;
  const genesisTime = new DataView(genesis.buffer, genesis.byteOffset).getUint32(68, true);
  return mineRun(genesis, count, genesisTime + 600, 600, 0x207fffff);
}

async function until(what: string, ok: () => boolean, ms: number, diag: () => string): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${diag()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/**
 * A behind gateway (genesis only) and an ahead one with `count` headers; the behind one must end
 * on the ahead one's tip. `behindFirst`: the behind one comes up a second before the other (its
 * link-up request goes out while no peer is on the air); otherwise just after the ahead one's
 * link is up (both link-up requests go out together and may collide).
 */
async function scenario(linkOf: (i: number) => LinkSpec, count: number, limitMs: number, behindFirst: boolean) {
  const logs = [memoryLogger(), memoryLogger()];
  const start = (i: number) =>
    Gateway.start({
      network: NETWORKS.regtest,
      listen: { host: '127.0.0.1', port: 0 },
      mode: 'gateway',
      links: [linkOf(i)],
      log: logs[i],
      checkpoint: null,
    });
  const diag = () =>
    ['behind', 'ahead']
      .map(
        (n, i) =>
          `--- ${n} ---\n${logs[i].lines
            .filter((l) => !l.includes('DEBUG'))
            .slice(-25)
            .join('\n')}`,
      )
      .join('\n');
  const headers = mineRegtest(count);
  const startBehind = async () => {
    const g = await start(0);
    cleanups.push(() => g.stop());
    await until("the behind gateway's link is up", () => g.status().links[0]?.state === 'up', 20_000, diag);
    return g;
  };
  const startAhead = async () => {
    const g = await start(1);
    cleanups.push(() => g.stop());
    expect(g.chain.addHeaders(headers).accepted).toBe(count);
    await until("the ahead gateway's link is up", () => g.status().links[0]?.state === 'up', 20_000, diag);
    return g;
  };
  let behind: Gateway;
  let ahead: Gateway;
  if (behindFirst) {
    behind = await startBehind();
    // Its link-up request is on (or past) the air before anyone listens.
    await new Promise((r) => setTimeout(r, 1000));
    ahead = await startAhead();
  } else {
    ahead = await startAhead();
    behind = await startBehind();
  }
  const t0 = Date.now();
  await until(`the behind gateway reaches height ${count}`, () => behind.chain.tip().height === count, limitMs, diag);
  expect(behind.chain.tip().hash).toEqual(headerHash(headers[count - 1]));
  const seconds = (Date.now() - t0) / 1000;
  // Drivers report their counters every 2 s.
  await until('driver counters', () => (ahead.status().links[0].counters.header_requests_rx ?? 0) > 0, 5000, diag);
  if (process.env.REQ_DIAG)
    console.log(diag(), JSON.stringify(behind.status().links[0].counters), JSON.stringify(ahead.status().links[0].counters));
  return { behind: behind.status().links[0].counters, ahead: ahead.status().links[0].counters, seconds };
}

describe('request-driven catch-up between two duplex gateways', () => {
  it('on the simulated air: a request no peer heard is asked again, and a full 64-header answer is followed up', async () => {
    const air = await startTestAir({ seed: 1 });
    cleanups.push(() => air.air.close());
    // A duty cycle below 1 makes the sim link a radio to the router (asking costs airtime); 0.9 keeps the waits short.
    const r = await scenario(() => air.link('air', undefined, { dutycycle: '0.9' }), 100, 40_000, true);
    console.log('sim request catch-up', JSON.stringify({ seconds: r.seconds, air: air.air.stats }));
    // The link-up request was lost (no peer on the air), a retry brought 64 headers, the
    // follow-up after that full answer the other 36: the ahead gateway answered two requests.
    expect(r.behind.radio_request_retries).toBeGreaterThanOrEqual(1);
    expect(r.behind.radio_requests).toBeGreaterThanOrEqual(1);
    expect(r.ahead.header_requests).toBeGreaterThanOrEqual(2);
    expect(r.behind.headers_accepted).toBe(100);
  }, 60_000);

  const dwMissing = direwolfMissing();
  it.skipIf(dwMissing !== undefined)(
    'over two real Dire Wolf modems (AFSK 1200): the behind gateway asks again and catches up',
    async () => {
      const wd = workdir();
      cleanups.push(() => wd.remove());
      const pair = await startDirewolfPair(wd.dir);
      cleanups.push(() => pair.stop());
      const r = await scenario(
        (i) => ({
          name: 'ham',
          type: 'kiss',
          options: { type: 'kiss', tcp: `127.0.0.1:${pair.stations[i].kissPort}`, callsign: `N0CALL-${7 + i}` },
        }),
        40,
        60_000,
        false,
      );
      // Without retries this run hung at height 0 when the two link-up requests collided on the air
      // (neither modem decoded the other's frame); whether they collide depends on timing.
      console.log(
        'direwolf request catch-up',
        JSON.stringify({ seconds: r.seconds, retries: r.behind.radio_request_retries ?? 0, air: pair.stats() }),
      );
      expect(r.behind.headers_accepted).toBe(40);
      // The headers crossed the modems: both stations keyed up.
      expect(pair.stats().transmittedMs.every((ms) => ms > 0)).toBe(true);
    },
    120_000,
  );
});
