// Errors a header source raises. Each has a stable code (used as the counter name): a timeout and
// an unreachable source are counted and retried; a lie marks the source (see guard.ts).
import { AltnetError, InvalidDataError } from '../../util/errors.js';

/** The source did not answer in time. Counted; the source is not marked for it. */
export class SourceTimeoutError extends AltnetError {
  constructor(what: string, ms: number) {
    super('timeout', `${what}: no answer within ${ms} ms; check the server address or raise the link's timeout`);
  }
}

/**
 * The source could not be reached, dropped the connection or asked us to slow down. Counted,
 * retried later; `retryAfterMs` (an HTTP 429's Retry-After) is the least wait before asking again.
 */
export class SourceUnavailableError extends AltnetError {
  readonly retryAfterMs?: number;

  constructor(message: string, options?: { cause?: unknown; retryAfterMs?: number }) {
    super('unavailable', message, options);
    if (options?.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }
}

/**
 * The source said something provably false (bad proof of work, a header that is not the one
 * asked for, headers that do not connect, a tip it cannot back). The link marks the source.
 */
export class SourceLieError extends InvalidDataError {
  constructor(
    readonly kind: LieKind,
    message: string,
  ) {
    super(`lie-${kind}`, message);
  }
}

export type LieKind = 'bad-pow' | 'disconnected' | 'wrong-header-for-hash' | 'tip-not-backed' | 'tip-inconsistent' | 'wrong-network';
