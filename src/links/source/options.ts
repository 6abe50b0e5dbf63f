// Source link options that need I/O to check (the table in ../options.ts checks only their form).
import { readFileSync } from 'node:fs';
import type { LinkOptions } from '../options.js';

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
