// Politeness towards public servers, one place for every internet source that polls (Esplora,
// headers over DNS; SourceLink applies it): when the link next asks on its own, and whether a
// request the gateway makes goes out now. Pure: time and randomness come from the caller.
//
//  - interval: with answers coming, ask every pollMs (spread by pollJitter), counted from the
//    last answer, so a request the gateway made also counts as the poll.
//  - new block: when the gateway's chain gains a block that some other link brought, ask within
//    a uniform random 0..blockDelayMs (150 s by default), not at once: every altnet user hears of
//    a block within seconds of the others, and polling then would put them all on the server in
//    the same second (eclair's watchdog does the same). A block this link found itself needs no
//    second look: its next poll stays an interval away.
//  - backoff: after n failures in a row (timeouts, unreachable, HTTP 429, captcha pages) the next
//    poll is drawn uniformly from [0, min(backoffMaxMs, base * 2^n)] ("full jitter", AWS
//    Architecture Blog, "Exponential Backoff And Jitter", 2015), at least MIN_RETRY_MS, with base
//    the smaller of pollMs and RETRY_BASE_MS: a passing timeout is retried within a minute (about
//    30 s on average), a server that stays down is asked less and less often, 30 min apart at
//    most. The first answer resets it.
//  - prompt requests: what the gateway asks (a sync continuing, a link that came up, the watchdog
//    asking every link when it suspects an eclipse) goes out at once while the source answers. While
//    it is backing off, such a request goes out at once only with a token from a small bucket
//    (PROMPT_BURST, one more every PROMPT_EVERY_MS); otherwise it waits for the backoff poll, which
//    asks with the newest locator. So no event, however often raised, can make a failing server be
//    asked more than the backoff plus a few prompt requests an hour; and whatever the reason, the
//    link's request bucket (the `rate` option, requests per minute) caps what the server sees.

/** Why the next own poll is when it is (status shows it). */
export type PollWhy = 'interval' | 'new-block' | 'backoff';

/**
 * The numbers the `poll.why` gauge carries (driver counters are numbers): the gateway turns
 * them back into words for status.
 */
export const POLL_WHY_CODES: Readonly<Record<PollWhy, number>> = { interval: 1, 'new-block': 2, backoff: 3 };

export function pollWhyFromCode(code: number | undefined): PollWhy | undefined {
  return (Object.keys(POLL_WHY_CODES) as PollWhy[]).find((k) => POLL_WHY_CODES[k] === code);
}

/** Default spread after a new block (eclair's watchdog waits 0 to 150 s). */
export const DEFAULT_BLOCK_DELAY_MS = 150_000;
/** Longest wait between two polls of a failing source. */
export const DEFAULT_BACKOFF_MAX_MS = 30 * 60_000;
/** Shortest wait after a failure (full jitter may draw 0). */
export const MIN_RETRY_MS = 1_000;
/** Largest backoff base: the first window after a failure is at most twice this (1 min). */
export const RETRY_BASE_MS = 30_000;
/** Prompt requests allowed at once while backing off, and one more per PROMPT_EVERY_MS. */
export const PROMPT_BURST = 2;
export const PROMPT_EVERY_MS = 5 * 60_000;

export interface PolitePolicyOptions {
  /** Own poll interval; 0: the link does not poll on its own (backoff still gates prompt requests). */
  pollMs: number;
  /** Spread of each interval as a fraction of pollMs (0.5: 0.75 to 1.25 pollMs). */
  pollJitter?: number;
  /** Largest random delay after a new block; 0: poll at once. */
  blockDelayMs?: number;
  backoffMaxMs?: number;
  nowMs: () => number;
  /** Uniform in [0, 1). */
  random: () => number;
}

export interface NextPoll {
  delayMs: number;
  why: PollWhy;
}

export class PolitePolicy {
  /** Failures in a row since the last answer. */
  failures = 0;
  private readonly pollMs: number;
  private readonly jitter: number;
  private readonly blockDelayMs: number;
  private readonly backoffMaxMs: number;
  private readonly nowMs: () => number;
  private readonly random: () => number;
  private promptTokens = PROMPT_BURST;
  private promptAt: number;

  constructor(o: PolitePolicyOptions) {
    this.pollMs = Math.max(0, o.pollMs);
    this.jitter = Math.min(Math.max(o.pollJitter ?? 0, 0), 1);
    this.blockDelayMs = Math.max(0, o.blockDelayMs ?? DEFAULT_BLOCK_DELAY_MS);
    this.backoffMaxMs = Math.max(MIN_RETRY_MS, o.backoffMaxMs ?? DEFAULT_BACKOFF_MAX_MS);
    this.nowMs = o.nowMs;
    this.random = o.random;
    this.promptAt = o.nowMs();
  }

  get backingOff(): boolean {
    return this.failures > 0;
  }

  /** The regular wait: pollMs spread by the jitter. */
  interval(): NextPoll {
    return { delayMs: Math.round(this.pollMs * (1 + this.jitter * (this.random() - 0.5))), why: 'interval' };
  }

  /** The source answered: the backoff is over; next poll an interval away. */
  succeeded(): NextPoll {
    this.failures = 0;
    return this.interval();
  }

  /**
   * The source failed (or was unavailable): the full-jitter backoff window doubles, up to the
   * cap. A server that said when to come back (HTTP 429 Retry-After) is not asked sooner than
   * that (capped at the backoff cap).
   */
  failed(retryAfterMs?: number): NextPoll {
    this.failures++;
    const next = this.backoff();
    if (retryAfterMs !== undefined && retryAfterMs > next.delayMs) next.delayMs = Math.min(Math.ceil(retryAfterMs), this.backoffMaxMs);
    return next;
  }

  /** A delay drawn from the current backoff window (also for a request left waiting). */
  backoff(): NextPoll {
    return { delayMs: Math.max(MIN_RETRY_MS, Math.floor(this.random() * this.backoffWindowMs())), why: 'backoff' };
  }

  /** The window the next backoff delay is drawn from. */
  backoffWindowMs(failures = this.failures): number {
    const base = this.pollMs > 0 ? Math.min(Math.max(this.pollMs, MIN_RETRY_MS), RETRY_BASE_MS) : RETRY_BASE_MS;
    // 2^n overflows nothing: the exponent is capped well before 2^53.
    return Math.min(this.backoffMaxMs, base * 2 ** Math.min(failures, 40));
  }

  /**
   * Some other link brought a new block. Returns the poll to schedule instead of the current one
   * (due in `dueInMs`, undefined: none), or null to keep it: a backoff is not shortened, and a
   * poll due sooner than the drawn delay stays.
   */
  newBlock(dueInMs: number | undefined): NextPoll | null {
    if (this.pollMs <= 0 || this.backingOff) return null;
    const delayMs = Math.floor(this.random() * this.blockDelayMs);
    if (dueInMs !== undefined && dueInMs <= delayMs) return null;
    return { delayMs, why: 'new-block' };
  }

  /** Whether a request the gateway makes goes out now (true) or waits for the next poll (false). */
  admitPrompt(): boolean {
    if (!this.backingOff) return true;
    const now = this.nowMs();
    const earned = Math.floor((now - this.promptAt) / PROMPT_EVERY_MS);
    if (earned > 0) {
      this.promptTokens = Math.min(PROMPT_BURST, this.promptTokens + earned);
      this.promptAt += earned * PROMPT_EVERY_MS;
    }
    if (this.promptTokens >= PROMPT_BURST) this.promptAt = now; // full: earning starts now
    if (this.promptTokens < 1) return false;
    this.promptTokens--;
    return true;
  }
}

/** Words for status (CLI and page): when the next poll is and why. Pure. */
export function describeNextPoll(p: { nextAt?: string; why?: string; failures?: number }, nowMs: number): string {
  const failures = Number(p.failures) || 0;
  if (!p.nextAt) return failures > 0 ? `no poll pending, ${failures} failure(s) in a row` : 'no poll pending';
  const ms = Date.parse(p.nextAt) - nowMs;
  const s = Math.max(0, Math.round(ms / 1000));
  const when = s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`;
  const why =
    p.why === 'backoff'
      ? `backing off after ${failures} failure(s) in a row`
      : p.why === 'new-block'
        ? 'random delay after a new block'
        : p.why === 'interval'
          ? 'regular interval'
          : String(p.why ?? '?');
  return `next poll in ${when} (${why})`;
}
