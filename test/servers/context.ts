// A LinkContext that records everything a link reports, for assertions.
import type { LinkContext, LinkState, TipReport } from '../../src/links/link.js';
import { NETWORKS, type NetworkParams } from '../../src/chain/networks.js';
import { Counters } from '../../src/util/counters.js';
import { memoryLogger } from '../../src/util/log.js';
import type { Timers } from '../../src/links/source/index.js';

export interface Recorded {
  ctx: LinkContext;
  batches: Uint8Array[][];
  tips: TipReport[];
  states: Array<{ state: LinkState; reason?: string }>;
  counters: Counters;
  log: ReturnType<typeof memoryLogger>;
  /** Every header delivered, in order. */
  all(): Uint8Array[];
}

/** A recorder whose context says `network` (mainnet unless said). */
export function recordingContext(network: NetworkParams = NETWORKS.main): Recorded {
  const counters = new Counters();
  const log = memoryLogger();
  const rec: Recorded = {
    batches: [],
    tips: [],
    states: [],
    counters,
    log,
    all: () => rec.batches.flat(),
    ctx: {
      log,
      counters,
      network,
      events: {
        headers: (raw) => rec.batches.push(raw),
        tx: () => {},
        tip: (t) => rec.tips.push(t),
        state: (state, reason) => rec.states.push({ state, reason }),
      },
    },
  };
  return rec;
}

/** Timers that only fire when the test says so. */
export function manualTimers(): Timers & { pending(): number[]; fire(pred?: (ms: number) => boolean): number; advance(ms: number): void } {
  let now = 0;
  let next = 1;
  const timers = new Map<number, { fn: () => void; ms: number }>();
  return {
    setTimeout: (fn, ms) => {
      const id = next++;
      timers.set(id, { fn, ms });
      return id;
    },
    clearTimeout: (h) => {
      timers.delete(h as number);
    },
    nowMs: () => now,
    pending: () => [...timers.values()].map((t) => t.ms),
    fire: (pred = () => true) => {
      let n = 0;
      for (const [id, t] of [...timers.entries()]) {
        if (!pred(t.ms)) continue;
        timers.delete(id);
        t.fn();
        n++;
      }
      return n;
    },
    advance: (ms) => {
      now += ms;
    },
  };
}

/**
 * 'same' when both runs hold the same headers, else where they first differ. Tests compare with
 * this instead of toEqual: a failing deep diff of thousands of byte arrays takes minutes.
 */
export function compareRuns(got: Uint8Array[], want: Uint8Array[]): string {
  if (got.length !== want.length) return `length ${got.length}, expected ${want.length}`;
  for (let i = 0; i < got.length; i++) {
    if (Buffer.compare(Buffer.from(got[i]), Buffer.from(want[i])) !== 0) return `differs at index ${i}`;
  }
  return 'same';
}
