// Duty-cycle and dwell-time limiter, consulted before every transmission.
//
// Rule enforced: in every window of `windowMs` (rolling, not aligned), the time spent
// transmitting is at most dutyCycle * windowMs. Before a transmission of airtime `a` starting at
// `s`, every earlier transmission that ends after s - windowMs is counted in full; if that sum
// plus `a` fits the budget, no window touching the new transmission can exceed it (those windows
// start after s - windowMs, and earlier transmissions contribute at most their full length).
// Counting in full is conservative by at most one transmission's length.
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

  constructor(o: DutyCycleOptions) {
    if (!(o.dutyCycle > 0 && o.dutyCycle <= 1)) throw new RangeError(`duty cycle must be in (0, 1], got ${o.dutyCycle}`);
    this.dutyCycle = o.dutyCycle;
    this.windowMs = o.windowMs ?? 3_600_000;
    this.maxDwellMs = o.maxDwellMs;
    this.clock = o.clock;
    this.counters = o.counters;
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
    const budget = this.budgetMs;
    let used = 0;
    for (const t of this.log) used += t.airtime;
    if (used + airtimeMs <= budget + 1e-9) return { ok: true };
    // Drop the oldest transmissions until it fits; we may start once the last dropped one has
    // left the window.
    let excess = used + airtimeMs - budget;
    for (const t of this.log) {
      excess -= t.airtime;
      if (excess <= 1e-9) return { ok: false, waitMs: Math.max(1, Math.ceil(t.end + this.windowMs - now)) };
    }
    return { ok: false, waitMs: this.windowMs };
  }

  /** Records a transmission that starts now. Call only after `admit` said ok. */
  record(airtimeMs: number): void {
    const now = this.clock.nowMs();
    this.log.push({ start: now, end: now + airtimeMs, airtime: airtimeMs });
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
