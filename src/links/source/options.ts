// Reading source link options: the polling rows the sources share (SOURCE_ROWS in ../options.ts)
// and the options that need I/O to check (the table checks only their form).
import { readFileSync } from 'node:fs';
import type { LinkOptions } from '../options.js';

/**
 * The options of a configured polling source link (Esplora, DNS), read from its SOURCE_ROWS
 * timeout, rate (per minute), burst, maxheaders, poll and blockdelay.
 */
export function readPollingOptions(o: LinkOptions) {
  return {
    name: o.name,
    timeoutMs: o.must<number>('timeout'),
    ratePerSecond: o.must<number>('rate') / 60,
    burst: o.must<number>('burst'),
    maxHeaders: o.must<number>('maxheaders'),
    pollMs: o.must<number>('poll'),
    // Configured links poll public servers at spread times (see polite.ts).
    pollJitter: 0.5,
    blockDelayMs: o.must<number>('blockdelay'),
  };
}

/** Reads a PEM certificate file named by an option; undefined when the option is absent. */
export function readPemOption(o: LinkOptions, key: string): Buffer | undefined {
  const path = o.text(key);
  if (!path) return undefined;
  let pem: Buffer;
  try {
    pem = readFileSync(path);
  } catch (e) {
    throw o.error(key, `cannot read it (${(e as Error).message})`);
  }
  if (!pem.toString('utf8').includes('-----BEGIN CERTIFICATE-----')) throw o.error(key, 'not a PEM certificate');
  return pem;
}
