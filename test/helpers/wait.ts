// The one wait-until of the tests: polls a condition until it holds, as a hang guard, never as a
// timing assertion. A synchronous condition is polled every 10 ms, one that returns a promise
// (an RPC, an HTTP fetch) every 50 ms.
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Resolves with the milliseconds waited once `cond()` holds; throws "timed out waiting for
 * <what>" (plus `diag()`, when given) after `timeoutMs`.
 */
export async function until(
  what: string,
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
  diag?: () => string,
): Promise<number> {
  const start = Date.now();
  for (;;) {
    const r = cond();
    const ok = typeof r === 'boolean' ? r : await r;
    if (ok) return Date.now() - start;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}${diag ? `\n${diag()}` : ''}`);
    await sleep(typeof r === 'boolean' ? 10 : 50);
  }
}
