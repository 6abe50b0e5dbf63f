// How late a process's event loop runs its timers (the process.eventloop_lag_* metrics of the
// daemon's main process and of each link driver): a probe timer's lateness, mean and worst since
// the last reading, on monotonicMs. Not perf_hooks' monitorEventLoopDelay: its histogram and
// perf_hooks' modules cost 0.2 MB PSS per link driver (two idle Node processes side by side) and
// 0.14 MB of anonymous memory in the main process (issue 18; a bare Node with net,
// child_process, crypto and zlib loaded, Pss_Anon median of 3 runs: 6520 kB, 6664 with an
// enabled monitorEventLoopDelay).
import { monotonicMs } from './clock.js';

/** Probe period: lateness is measured to the nearest timer turn after it. */
export const LAG_PROBE_MS = 500;

export class LoopLag {
  private sum = 0;
  private count = 0;
  private max = 0;
  private due = 0;
  private timer: NodeJS.Timeout | undefined;

  /** Starts probing (an unref'd timer: it never keeps the process alive). */
  start(): void {
    if (this.timer) return;
    this.due = monotonicMs() + LAG_PROBE_MS;
    this.timer = setInterval(() => {
      const now = monotonicMs();
      const late = Math.max(0, now - this.due);
      this.due = now + LAG_PROBE_MS;
      this.sum += late;
      this.count++;
      if (late > this.max) this.max = late;
    }, LAG_PROBE_MS).unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Mean and worst lateness (seconds) since the last take (0 before any probe), then starts over. */
  take(): { meanSeconds: number; maxSeconds: number } {
    const out = { meanSeconds: this.count ? this.sum / this.count / 1e3 : 0, maxSeconds: this.max / 1e3 };
    this.sum = this.count = this.max = 0;
    return out;
  }
}
