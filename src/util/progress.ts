// Progress of a long job (a header sync, a block rescue): done, target, percent, rate and ETA,
// one log line when it starts, one every `everyMs` while it runs and one when it is done, and a
// snapshot for status. Feed it `update(done, target)` as often as you like; it decides when to
// speak. Rate is measured over a sliding window so a stall shows as a falling rate.
import type { Logger } from './log.js';

export interface ProgressSnapshot {
  /** What is being done, e.g. "header sync", "block fetch". */
  what: string;
  /** Units, e.g. "headers", "blocks". */
  unit: string;
  done: number;
  target: number;
  /** 0..100, one decimal. */
  percent: number;
  /** Units per second over the recent window. */
  rate: number;
  /** Seconds to go at that rate; null when unknown (no rate yet). */
  etaSeconds: number | null;
  /** ISO time the job started. */
  startedAt: string;
  /** Whether it reached its target (kept for status until a new job starts). */
  finished: boolean;
}

export interface ProgressOptions {
  what: string;
  unit: string;
  log: Logger;
  /** Milliseconds since the epoch. */
  now?: () => number;
  /** Log interval while running (default 5000 ms). */
  everyMs?: number;
  /** A job smaller than this (target - done at start) logs only its end (default 1). */
  minJob?: number;
  /** Extra fields on every line (e.g. the link name). */
  fields?: Record<string, string | number>;
}

const RATE_WINDOW_MS = 30_000;

/** One job's progress. `update` starts a job when done < target, and finishes it at target. */
export class Progress {
  private job:
    | {
        start: number;
        startDone: number;
        done: number;
        target: number;
        lastLog: number;
        loggedDone: number;
        samples: Array<[number, number]>;
        finished: boolean;
      }
    | undefined;

  constructor(private readonly opts: ProgressOptions) {}

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }

  /** Reports where the job is. A target at or below `done` finishes the current job (if any). */
  update(done: number, target: number): void {
    const now = this.now();
    const { log, what, unit } = this.opts;
    if (!this.job || this.job.finished) {
      if (done >= target) return;
      this.job = { start: now, startDone: done, done, target, lastLog: now, loggedDone: done, samples: [[now, done]], finished: false };
      if (target - done >= (this.opts.minJob ?? 1))
        log.info(`${what} started`, { ...this.opts.fields, done, target, [unit]: target - done });
      return;
    }
    const job = this.job;
    job.done = done;
    job.target = Math.max(target, done);
    job.samples.push([now, done]);
    while (job.samples.length > 2 && now - job.samples[0][0] > RATE_WINDOW_MS) job.samples.shift();
    if (done >= target) {
      job.finished = true;
      const secs = Math.max(0.001, (now - job.start) / 1000);
      const n = done - job.startDone;
      log.info(`${what} done`, {
        ...this.opts.fields,
        height: done,
        [unit]: n,
        seconds: Number(secs.toFixed(1)),
        perSecond: Math.round(n / secs),
      });
      return;
    }
    // A stalled job (nothing since the last line) speaks once a minute, not every few seconds.
    const every = done === job.loggedDone ? Math.max(60_000, this.opts.everyMs ?? 5000) : (this.opts.everyMs ?? 5000);
    if (now - job.lastLog >= every) {
      job.lastLog = now;
      job.loggedDone = done;
      const s = this.snapshot()!;
      log.info(`${what} progress`, {
        ...this.opts.fields,
        done,
        target: s.target,
        percent: s.percent,
        perSecond: Math.round(s.rate),
        eta: s.etaSeconds === null ? 'unknown' : formatEta(s.etaSeconds),
      });
    }
  }

  /** The current (or last) job, or undefined if none ever ran. */
  snapshot(): ProgressSnapshot | undefined {
    const job = this.job;
    if (!job) return undefined;
    const [t0, d0] = job.samples[0];
    const [t1, d1] = job.samples[job.samples.length - 1];
    const rate = t1 > t0 ? ((d1 - d0) * 1000) / (t1 - t0) : 0;
    const total = job.target - job.startDone;
    const percent = job.finished ? 100 : total > 0 ? Math.floor((1000 * (job.done - job.startDone)) / total) / 10 : 0;
    return {
      what: this.opts.what,
      unit: this.opts.unit,
      done: job.done,
      target: job.target,
      percent,
      rate: Math.round(rate * 10) / 10,
      etaSeconds: job.finished ? 0 : rate > 0 ? Math.ceil((job.target - job.done) / rate) : null,
      startedAt: new Date(job.start).toISOString(),
      finished: job.finished,
    };
  }
}

export function formatEta(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)}s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)}min`;
  return `${(seconds / 3600).toFixed(1)}h`;
}
