// Duty-cycle and dwell-time limiter, consulted before every transmission.
//
// Rule enforced: in every window of `windowMs` (rolling, not aligned), the time spent
// transmitting is at most dutyCycle * windowMs. A radio sends one frame at a time, so recorded
// transmissions never overlap (record() starts one no earlier than the previous one's end). Then
// the exact test for a transmission of airtime `a` starting at `s` is: the earlier airtime inside
// [s + a - windowMs, s] plus `a` fits the budget. Proof: windows ending before s do not contain
// it; a window ending at e in [s, s + a] holds e - s of the new one and, of the old ones, what
// lies in [e - windowMs, s], which shrinks by at most e - s as e grows (old transmissions do not
// overlap), so the sum is largest at e = s + a; windows ending later hold all of `a` and less of
// the old. Earlier versions counted every transmission that ends after s - windowMs in full,
// conservative by up to one frame: at SF12 and 1% (2.5 s frames in a 36 s budget) that idled
// the radio about 3% of the time (issue 17 catch-up bench).
//
// Second rule, pacing: the budget is spread over the window rather than spent in a burst. A
// token bucket fills at `dutyCycle` ms of airtime per ms up to `burstShare` of the window's budget
// (default a tenth); a transmission may start once the bucket holds its airtime (or is full, for a
// frame longer than the bucket) and empties it by its airtime, possibly below zero. So a sender
// with a long backlog transmits at the legal average rate all through the window instead of using
// the hour's budget in its first minutes and then falling silent for the rest of the hour (issue
// 17: the demo at SF12 spent an hour's budget in 5 s), and a new tip waits at most its own
// airtime / dutyCycle, which is less than one window.
import type { Counters } from '../../util/counters.js';
import type { Clock } from '../../util/clock.js';
import { AirtimeLimitError } from './errors.js';

export interface DutyCycleOptions {
  /** Legal share of airtime, 0 < dutyCycle <= 1. */
  dutyCycle: number;
  windowMs?: number;
  /** Longest single transmission (US915: 400 ms). */
  maxDwellMs?: number;
  clock: Clock;
  counters?: Counters;
  /** Largest burst as a share of the window's budget, (0, 1]; 1 turns pacing off. Default 0.1. */
  burstShare?: number;
}

export type Admission = { ok: true } | { ok: false; waitMs: number };

interface Transmission {
  start: number;
  end: number;
  airtime: number;
}

export class DutyCycleLimiter {
  readonly dutyCycle: number;
  readonly windowMs: number;
  readonly maxDwellMs: number | undefined;
  private readonly clock: Clock;
  private readonly counters: Counters | undefined;
  private readonly log: Transmission[] = [];
  private totalAirtimeMs = 0;
  /** Pacing bucket: airtime ms available at `bucketAt`, at most burstMs. */
  readonly burstMs: number;
  private bucketMs: number;
  private bucketAt: number;

  constructor(o: DutyCycleOptions) {
    if (!(o.dutyCycle > 0 && o.dutyCycle <= 1)) throw new RangeError(`duty cycle must be in (0, 1], got ${o.dutyCycle}`);
    this.dutyCycle = o.dutyCycle;
    this.windowMs = o.windowMs ?? 3_600_000;
    this.maxDwellMs = o.maxDwellMs;
    this.clock = o.clock;
    this.counters = o.counters;
    const share = o.burstShare ?? 0.1;
    if (!(share > 0 && share <= 1)) throw new RangeError(`burst share must be in (0, 1], got ${share}`);
    this.burstMs = share * this.budgetMs;
    this.bucketMs = this.burstMs;
    this.bucketAt = this.clock.nowMs();
  }

  /** Airtime budget per window, ms. */
  get budgetMs(): number {
    return this.dutyCycle * this.windowMs;
  }

  /** Throws if a transmission of `airtimeMs` could never be allowed (dwell time, whole budget). */
  validate(airtimeMs: number): void {
    if (this.maxDwellMs !== undefined && airtimeMs > this.maxDwellMs) {
      throw new AirtimeLimitError(`a ${airtimeMs.toFixed(1)} ms transmission exceeds the ${this.maxDwellMs} ms dwell time`);
    }
    if (this.dutyCycle < 1 && airtimeMs > this.budgetMs) {
      throw new AirtimeLimitError(
        `a ${airtimeMs.toFixed(1)} ms transmission exceeds the whole ${this.budgetMs.toFixed(0)} ms duty-cycle budget per window`,
      );
    }
  }

  /** Whether a transmission of `airtimeMs` may start now, or how long to wait. */
  admit(airtimeMs: number): Admission {
    this.validate(airtimeMs);
    if (this.dutyCycle >= 1) return { ok: true };
    const now = this.clock.nowMs();
    this.prune(now);
    const paceWait = this.paceWaitMs(airtimeMs, now);
    // The earliest start s at which the old airtime inside [s + a - windowMs, s] fits the budget
    // less `a`: walking back from the newest transmission, the point x where the airtime after x
    // reaches that room; then s = x + windowMs - a (the file's opening comment proves the test).
    let room = this.budgetMs - airtimeMs + 1e-9;
    let x = -Infinity;
    for (let i = this.log.length - 1; i >= 0; i--) {
      const t = this.log[i];
      if (t.airtime > room) {
        x = t.end - room;
        break;
      }
      room -= t.airtime;
    }
    const windowWait = x === -Infinity ? 0 : x + this.windowMs - airtimeMs - now;
    if (windowWait <= 0) return paceWait > 0 ? { ok: false, waitMs: paceWait } : { ok: true };
    return { ok: false, waitMs: Math.max(1, paceWait, Math.ceil(windowWait)) };
  }

  /** How long until the pacing bucket holds `airtimeMs` (or is full); 0 if it does now. */
  private paceWaitMs(airtimeMs: number, now: number): number {
    const need = Math.min(airtimeMs, this.burstMs);
    const have = this.bucketLevel(now);
    return have + 1e-9 >= need ? 0 : Math.max(1, Math.ceil((need - have) / this.dutyCycle));
  }

  private bucketLevel(now: number): number {
    return Math.min(this.burstMs, this.bucketMs + Math.max(0, now - this.bucketAt) * this.dutyCycle);
  }

  /** Records a transmission that starts now. Call only after `admit` said ok. */
  record(airtimeMs: number): void {
    const now = this.clock.nowMs();
    // One frame at a time: a transmission recorded before the last one ended starts after it.
    const start = Math.max(now, this.log.at(-1)?.end ?? now);
    this.log.push({ start, end: start + airtimeMs, airtime: airtimeMs });
    this.bucketMs = this.bucketLevel(now) - airtimeMs;
    this.bucketAt = now;
    this.totalAirtimeMs += airtimeMs;
    this.counters?.inc('airtime_ms', Math.round(airtimeMs));
    this.counters?.inc('transmissions');
  }

  /** Airtime counted against the current window, ms. */
  usedMs(): number {
    this.prune(this.clock.nowMs());
    return this.log.reduce((s, t) => s + t.airtime, 0);
  }

  get totalMs(): number {
    return this.totalAirtimeMs;
  }

  private prune(now: number): void {
    const horizon = now - this.windowMs + 1e-6;
    while (this.log.length && this.log[0].end <= horizon) this.log.shift();
  }
}
