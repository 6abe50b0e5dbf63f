// Time as a dependency, in one module: nothing reads the wall clock directly, so tests can simulate
// a day of radio traffic in milliseconds or fire a source's timeout by hand. Every reading carries
// its unit in its name (nowMs); code that needs seconds (block times) takes a `nowSeconds`
// function. Two shapes of the same thing: Clock (after/cancel, the radio layer and ManualClock)
// and Timers (Node's setTimeout/clearTimeout shape, the internet sources and hotplug).

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds on a monotonic-enough scale. */
  nowMs(): number;
  /** Calls `fn` after `ms`; returns a handle to cancel it. */
  after(ms: number, fn: () => void): TimerHandle;
  /**
   * The wall-clock time (ms since the epoch) of `atMs` on this clock, for what a person reads
   * (status, logs); absent where the two are the same. See wallMs.
   */
  wallMs?(atMs: number): number;
}

/** `atMs` on `clock` as wall-clock time: a compressed clock's readings run ahead of the wall's. */
export function wallMs(clock: Clock, atMs: number): number {
  return clock.wallMs ? clock.wallMs(atMs) : atMs;
}

/** Clock in Node's setTimeout/clearTimeout shape; the same time as Clock.nowMs. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** Milliseconds, monotonic. */
  nowMs(): number;
}

/**
 * Milliseconds on the system's monotonic clock (process.hrtime, from an arbitrary origin). Not
 * `performance.now()`: the first read of the global `performance` loads perf_hooks and its
 * helpers into the process, 0.12 MB of anonymous memory per link driver process (measured:
 * a jitless Node with net and crypto loaded, +120-128 kB after `performance.now()`, +0-4 kB
 * after `process.hrtime()`; issue 18).
 */
export function monotonicMs(): number {
  const [s, ns] = process.hrtime();
  return s * 1e3 + ns / 1e6;
}
/** Date.now() at monotonicMs() 0, taken once: systemClock reads epoch time that never steps back. */
const EPOCH_AT_MONOTONIC_ZERO = Date.now() - monotonicMs();

/** The system's time in both shapes. A pending timer never keeps the process alive on its own. */
export const systemClock: Clock & Timers = {
  nowMs: () => EPOCH_AT_MONOTONIC_ZERO + monotonicMs(),
  after(ms, fn) {
    const t = setTimeout(fn, Math.max(0, ms));
    t.unref?.();
    return { cancel: () => clearTimeout(t) };
  },
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/**
 * A clock that runs `factor` times faster than `base` (the demo's simulated air on compressed
 * time: airtime, duty-cycle limiter and beacon timers of sim links; every process that shares the
 * air uses the same factor). Readings start at base's time and grow `factor` ms per base ms.
 */
export function scaledClock(factor: number, base: Clock = systemClock): Clock {
  if (!(factor > 0)) throw new RangeError(`time scale must be > 0, got ${factor}`);
  if (factor === 1) return base;
  const origin = base.nowMs();
  return {
    nowMs: () => origin + (base.nowMs() - origin) * factor,
    after: (ms, fn) => base.after(Math.max(0, ms) / factor, fn),
    wallMs: (atMs) => wallMs(base, origin + (atMs - origin) / factor),
  };
}

/** The name the internet sources use for systemClock. */
export const realTimers: Timers = systemClock;

/** A clock that only moves when told to; timers fire in time order during `advance`. Both shapes. */
export class ManualClock implements Clock, Timers {
  private t: number;
  private seq = 0;
  private timers: { at: number; seq: number; fn: () => void; live: boolean }[] = [];

  constructor(start = 0) {
    this.t = start;
  }

  nowMs(): number {
    return this.t;
  }

  after(ms: number, fn: () => void): TimerHandle {
    const timer = { at: this.t + Math.max(0, ms), seq: this.seq++, fn, live: true };
    this.timers.push(timer);
    return { cancel: () => void (timer.live = false) };
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.after(ms, fn);
  }

  clearTimeout(handle: unknown): void {
    (handle as TimerHandle | undefined)?.cancel();
  }

  /** Moves time forward by `ms`, firing due timers in order (a timer may schedule others). */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      this.timers = this.timers.filter((x) => x.live);
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.t = Math.max(this.t, next.at);
      next.live = false;
      next.fn();
    }
    this.t = end;
  }

  /** Time of the earliest pending timer, if any. */
  nextTimerAt(): number | undefined {
    const live = this.timers.filter((x) => x.live).map((x) => x.at);
    return live.length ? Math.min(...live) : undefined;
  }
}
