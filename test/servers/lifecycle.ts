// Test plumbing shared by the link tests: cleanup of servers and links after each test (even a
// failed one), and the checks every "lying source" and "stalled source" test makes.
import { afterEach, expect, it } from 'vitest';
import type { Link } from '../../src/links/link.js';
import type { Recorded, manualTimers } from './context.js';

export function lifecycle() {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });
  return {
    /** Stops the link after the test. */
    track<L extends Link>(link: L): L {
      cleanup.push(() => link.stop());
      return link;
    },
    /** Closes a server (anything with close()) after the test. */
    async serve<S extends { close(): Promise<void> }>(started: Promise<S>): Promise<S> {
      const s = await started;
      cleanup.push(() => s.close());
      return s;
    },
  };
}

/**
 * The link caught its source lying (`counter`, e.g. 'lie.bad-pow'): it reported nothing, said so
 * in its state and log, and a further request never reaches the source (`asked` counts requests).
 */
export async function expectMarkedLiar(
  link: Link,
  rec: Recorded,
  counter: string,
  asked: () => number,
  locator: Uint8Array[],
): Promise<void> {
  expect(rec.counters.get(counter)).toBe(1);
  expect(rec.counters.get('lies')).toBe(1);
  expect(rec.all()).toHaveLength(0);
  expect(rec.states.at(-1)?.state).toBe('degraded');
  expect(rec.states.at(-1)?.reason).toContain(counter.replace(/^lie\./, ''));
  expect(rec.log.lines.some((l) => l.includes('source lied'))).toBe(true);
  const before = asked();
  await link.requestHeaders!(locator);
  expect(asked()).toBe(before);
  expect(rec.counters.get('refused.marked')).toBe(1);
}

/**
 * One test per `[lie, counter]`: `start(lie)` serves a source that tells that lie and makes a
 * link to it (not started); the link, asked for headers from `locator`, must catch the lie and
 * mark the source (expectMarkedLiar). `what` names the source in the test titles.
 */
export function itCatchesEachLie<Lie extends string>(
  what: string,
  lies: Array<[Lie, string]>,
  locator: Uint8Array[],
  start: (lie: Lie) => Promise<{ link: Link; rec: Recorded; asked: () => number }>,
): void {
  for (const [lie, counter] of lies) {
    it(`detects a lying ${what} (${lie}), marks it and asks it nothing more`, async () => {
      const { link, rec, asked } = await start(lie);
      await link.start();
      await link.requestHeaders!(locator);
      await expectMarkedLiar(link, rec, counter, asked, locator);
    });
  }
}

/**
 * A request (`done`) the source never answered ends when its timer of `timeoutMs` fires: one
 * timeout counted, no lie, the source not marked.
 */
export async function expectTimedOutNotMarked(
  timers: ReturnType<typeof manualTimers>,
  timeoutMs: number,
  done: Promise<void>,
  link: Link & { markedReason: string | null },
  rec: Recorded,
): Promise<void> {
  expect(timers.fire((ms) => ms === timeoutMs)).toBe(1);
  await done;
  expect(rec.counters.get('timeouts')).toBe(1);
  expect(rec.counters.get('lies')).toBe(0);
  expect(link.markedReason).toBeNull();
}
