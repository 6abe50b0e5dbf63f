// Line protocol helpers for AT-style modems (RAK3172, RN2483): a bounded line splitter that
// survives garbage, and a command/answer matcher with timeouts.
import type { Counters } from '../../util/counters.js';
import type { Logger } from '../../util/log.js';
import type { Clock, TimerHandle } from '../../util/clock.js';
import { ModemError, ModemTimeoutError } from './errors.js';

export type LineEvent = { line: string } | { garbage: 'overlong' | 'non-utf8'; bytes: number };

/**
 * Splits a byte stream into lines (LF, optional CR before it). A line longer than `maxLineBytes`
 * is discarded up to the next LF; a line that is not valid UTF-8 is reported as garbage.
 * Memory stays bounded by `maxLineBytes` whatever the device sends.
 */
export class LineSplitter {
  private buf: Uint8Array;
  private len = 0;
  private skipping = false;
  private skipped = 0;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });

  constructor(readonly maxLineBytes = 512) {
    this.buf = new Uint8Array(maxLineBytes);
  }

  push(chunk: Uint8Array): LineEvent[] {
    const out: LineEvent[] = [];
    for (const b of chunk) {
      if (b === 0x0a) {
        if (this.skipping) {
          out.push({ garbage: 'overlong', bytes: this.skipped });
          this.skipping = false;
          this.skipped = 0;
        } else {
          let end = this.len;
          if (end > 0 && this.buf[end - 1] === 0x0d) end--;
          const bytes = this.buf.subarray(0, end);
          this.len = 0;
          try {
            const line = this.decoder.decode(bytes);
            if (line.length) out.push({ line });
          } catch {
            out.push({ garbage: 'non-utf8', bytes: end });
          }
        }
        continue;
      }
      if (this.skipping) {
        this.skipped++;
        continue;
      }
      if (this.len >= this.maxLineBytes) {
        this.skipping = true;
        this.skipped = this.len + 1;
        this.len = 0;
        continue;
      }
      this.buf[this.len++] = b;
    }
    return out;
  }

  reset(): void {
    this.len = 0;
    this.skipping = false;
    this.skipped = 0;
  }
}

export interface Expectation {
  /** A line that completes the wait successfully. */
  ok: (line: string) => boolean;
  /** A line that means failure. */
  error?: (line: string) => boolean;
  timeoutMs: number;
  /**
   * A second answer that must follow the first (`radio tx` -> `ok` -> `radio_tx_ok`). Armed the
   * moment the first matches, so both lines may arrive in the same chunk.
   */
  then?: Expectation & { label: string };
}

interface Waiter {
  label: string;
  exp: Expectation;
  resolve(line: string): void;
  reject(err: Error): void;
  timer: TimerHandle;
}

export interface LineModemOptions {
  maxLineBytes: number;
  lineEnding: string;
  clock: Clock;
  log: Logger;
  counters: Counters;
  write(bytes: Uint8Array): Promise<void>;
  /** Lines nobody waits for: receive events, banners, noise. */
  onUnsolicited(line: string): void;
}

/** One outstanding command at a time; lines that do not answer it go to onUnsolicited. */
export class LineModem {
  private readonly splitter: LineSplitter;
  private waiter: Waiter | undefined;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: LineModemOptions) {
    this.splitter = new LineSplitter(o.maxLineBytes);
  }

  push(chunk: Uint8Array): void {
    for (const ev of this.splitter.push(chunk)) {
      if ('garbage' in ev) {
        this.o.counters.inc(`garbage_${ev.garbage === 'overlong' ? 'overlong' : 'non_utf8'}`);
        this.o.log.warn('modem sent garbage; line discarded', { reason: ev.garbage, bytes: ev.bytes });
        continue;
      }
      const w = this.waiter;
      if (w && w.exp.ok(ev.line)) {
        const next = w.exp.then;
        if (next) {
          w.timer.cancel();
          w.label = next.label;
          w.exp = next;
          this.arm(w);
          continue;
        }
        this.finish(w);
        w.resolve(ev.line);
      } else if (w && w.exp.error?.(ev.line)) {
        this.finish(w);
        w.reject(new ModemError(w.label, ev.line));
      } else {
        this.o.onUnsolicited(ev.line);
      }
    }
  }

  /** Sends `cmd` and waits for a line matching `exp`. Commands queue behind each other. */
  command(cmd: string, exp: Expectation): Promise<string> {
    const run = async () => {
      const p = this.wait(cmd, exp);
      // The wait may fail (abort) while the write is still pending; the caller awaits it below.
      p.catch(() => undefined);
      try {
        await this.o.write(new TextEncoder().encode(cmd + this.o.lineEnding));
      } catch (err) {
        this.abort(err as Error);
      }
      return p;
    };
    const next = this.chain.then(run, run);
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** Waits for a later line (an asynchronous event such as radio_tx_ok) without sending. */
  expect(label: string, exp: Expectation): Promise<string> {
    const run = () => this.wait(label, exp);
    const next = this.chain.then(run, run);
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** Fails the outstanding wait (modem reset, port closed). */
  abort(err: Error): void {
    const w = this.waiter;
    if (!w) return;
    this.finish(w);
    w.reject(err);
  }

  reset(): void {
    this.splitter.reset();
  }

  private wait(label: string, exp: Expectation): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      const w: Waiter = { label, exp, resolve, reject, timer: { cancel() {} } };
      this.arm(w);
      this.waiter = w;
    });
  }

  private arm(w: Waiter): void {
    const { label, exp } = w;
    w.timer = this.o.clock.after(exp.timeoutMs, () => {
      if (this.waiter !== w || w.exp !== exp) return;
      this.waiter = undefined;
      w.reject(new ModemTimeoutError(label, exp.timeoutMs));
    });
  }

  private finish(w: Waiter): void {
    w.timer.cancel();
    if (this.waiter === w) this.waiter = undefined;
  }
}
