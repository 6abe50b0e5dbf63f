// SourceGuard: runs a source link's operations one at a time, counts timeouts and bad answers
// (degraded after several in a row), and marks a source caught lying so it is used no more.
import { AltnetError } from '../../util/errors.js';
import type { LinkContext, LinkState } from '../link.js';
import { SourceLieError } from './errors.js';

/**
 * The part of a link that keeps it honest and alive: operations run one at a time; a timeout or
 * bad answer is counted and logged (degraded after several in a row); a lie marks the source,
 * which is then used no more until restart. Nothing escapes as an exception.
 */
export class SourceGuard {
  private queue: Promise<void> = Promise.resolve();
  private liar: string | null = null;
  private failures = 0;
  /** The last failure's error (SourceLink reads an HTTP 429's Retry-After from it). */
  lastError: unknown = undefined;
  private state: LinkState = 'stopped';
  stopped = false;

  constructor(
    private readonly name: string,
    private readonly ctx: LinkContext,
    private readonly failuresBeforeDegraded = 3,
  ) {}

  get markedReason(): string | null {
    return this.liar;
  }

  /** Queues an operation behind the others; resolves when it is done, never rejects. */
  run(what: string, op: () => Promise<void>): Promise<void> {
    return this.attempt(what, op).then(() => undefined);
  }

  /**
   * run(), telling how it went: true when the operation succeeded, false when it failed, null
   * when it did not run (stopped, marked) or the source lied (and is now marked).
   */
  attempt(what: string, op: () => Promise<void>): Promise<boolean | null> {
    const next = this.queue.then(() => this.guarded(what, op));
    this.queue = next.then(() => undefined);
    return next;
  }

  /** Waits for queued operations (used on stop). */
  idle(): Promise<void> {
    return this.queue;
  }

  /** For operations whose caller must hear about failure (sending a transaction). */
  refuseIfMarked(): void {
    if (this.liar) {
      this.ctx.counters.inc('refused.marked');
      throw new AltnetError('source-marked', `link ${this.name} is marked (${this.liar}); restart to use it again`);
    }
  }

  private async guarded(what: string, op: () => Promise<void>): Promise<boolean | null> {
    if (this.stopped) return null;
    if (this.liar) {
      this.ctx.counters.inc('refused.marked');
      this.ctx.log.debug('source is marked, request ignored', { link: this.name, reason: this.liar });
      return null;
    }
    try {
      await op();
      this.succeeded();
      return true;
    } catch (e) {
      if (this.stopped) return null;
      if (e instanceof SourceLieError) {
        this.mark(e);
        return null;
      }
      this.countFailure(what, e);
      return false;
    }
  }

  succeeded(): void {
    if (this.stopped || this.liar) return;
    this.failures = 0;
    if (this.state !== 'up') this.setState('up');
  }

  countFailure(what: string, e: unknown): void {
    this.lastError = e;
    const code = e instanceof AltnetError ? e.code : 'error';
    const msg = e instanceof Error ? e.message : String(e);
    this.ctx.counters.inc(code === 'timeout' ? 'timeouts' : 'failures');
    this.ctx.counters.inc(`failure.${code}`);
    // One warning per outage, not one per poll: repeats go to debug (counted all the same).
    this.ctx.log[this.failures === 0 ? 'warn' : 'debug'](`${what} failed`, {
      link: this.name,
      code,
      error: msg,
      inARow: this.failures + 1,
    });
    this.failures++;
    if (this.state === 'starting' || this.state === 'down') {
      // It has not answered yet (or not since it went down): down, and why.
      this.setState('down', `${what} failed: ${msg}`);
    } else if (this.failures >= this.failuresBeforeDegraded && this.state !== 'degraded') {
      this.setState('degraded', `${this.failures} failures in a row, last: ${msg}`);
    }
  }

  mark(e: SourceLieError): void {
    if (this.liar) return;
    this.liar = `${e.kind}: ${e.message}`;
    this.ctx.counters.inc('lies');
    this.ctx.counters.inc(`lie.${e.kind}`);
    this.ctx.log.error('source lied; marked, not used again until restart', {
      link: this.name,
      kind: e.kind,
      error: e.message,
    });
    this.setState('degraded', `marked as a liar (${e.kind}): ${e.message}`);
  }

  setState(s: LinkState, reason?: string): void {
    this.state = s;
    this.ctx.events.state(s, reason);
  }
}
