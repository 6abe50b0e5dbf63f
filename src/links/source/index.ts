// Internet header sources (Esplora, Electrum, headers over DNS, P2P): what the drivers share.
//   errors.ts   timeout, unavailable, lie-<kind>
//   limits.ts   withTimeout, RateLimiter
//   check.ts    checkHeaderRun (pure)
//   heights.ts  KnownHeights
//   guard.ts    SourceGuard (one at a time, counting, marking liars)
//   polite.ts   PolitePolicy (interval, delay after a new block, backoff, prompt requests)
//   link.ts     HeaderSource, SourceLink
//   options.ts  readPollingOptions, readPemOption
export { realTimers, type Timers } from '../../util/clock.js';
export { SourceLieError, SourceTimeoutError, SourceUnavailableError, type LieKind } from './errors.js';
export { RateLimiter, withTimeout } from './limits.js';
export { checkHeaderRun, type ChainCheck } from './check.js';
export { KnownHeights } from './heights.js';
export { SourceGuard } from './guard.js';
export { PolitePolicy, POLL_WHY_CODES, pollWhyFromCode, type PollWhy } from './polite.js';
export { pollingOptions, SourceLink, type HeaderSource, type PollingOptions, type SourceLinkOptions, type SourceTip } from './link.js';
export { readPemOption, readPollingOptions } from './options.js';
