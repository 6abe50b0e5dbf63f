// What keeps a source polite and bounded: a deadline on every question (withTimeout) and a
// token bucket so a link never hammers a public server (RateLimiter). Time comes from Timers.
import { realTimers, type Timers } from '../../util/clock.js';
import { SourceTimeoutError } from './errors.js';

/** Run `op` with a deadline; `cancel` undoes whatever the operation left in flight. */
export function withTimeout<T>(timers: Timers, ms: number, what: string, op: () => Promise<T>, cancel?: () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const handle = timers.setTimeout(() => {
      if (done) return;
      done = true;
      try {
        cancel?.();
      } catch {
        // cancelling is best effort; the timeout is what the caller needs to hear about
      }
      reject(new SourceTimeoutError(what, ms));
    }, ms);
    op().then(
      (v) => {
        if (done) return;
        done = true;
        timers.clearTimeout(handle);
        resolve(v);
      },
      (e: unknown) => {
        if (done) return;
        done = true;
        timers.clearTimeout(handle);
        reject(e);
      },
    );
  });
}

export class RateLimiter {
  private tokens: number;
  private last: number;
  private waiting: Array<() => void> = [];
  private timer: unknown = null;

  /** `perSecond` 0 means unlimited. */
  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly timers: Timers = realTimers,
  ) {
    this.tokens = burst;
    this.last = timers.nowMs();
  }

  /** Resolves when one request may go out. */
  take(): Promise<void> {
    if (this.perSecond <= 0) return Promise.resolve();
    this.refill();
    if (this.waiting.length === 0 && this.tokens >= 1) {
      this.tokens -= 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.schedule();
    });
  }

  /** Releases every waiter (used on stop, so nothing hangs). */
  drain(): void {
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
    for (const w of this.waiting.splice(0)) w();
  }

  private refill(): void {
    const now = this.timers.nowMs();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
  }

  private schedule(): void {
    if (this.timer !== null) return;
    const wait = Math.max(1, Math.ceil(((1 - this.tokens) / this.perSecond) * 1000));
    this.timer = this.timers.setTimeout(() => {
      this.timer = null;
      this.refill();
      while (this.waiting.length > 0 && this.tokens >= 1) {
        this.tokens -= 1;
        this.waiting.shift()!();
      }
      if (this.waiting.length > 0) this.schedule();
    }, wait);
  }
}
