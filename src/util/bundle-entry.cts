// Which file a process runs: the esbuild bundle of an entry (scripts/bundle.mjs, part of
// `npm run build`) when it is at least as new as the compiled entry, else the compiled entry
// itself (a later bare `npx tsc` makes it newer, so a stale bundle is never run). One rule for
// the CLI (src/cli/main.cts) and the link driver processes (src/gateway/supervisor.ts). Imports
// only node:fs: the CLI entry loads it before anything else. CommonJS (.cts), like that entry,
// which therefore never starts Node's ESM loader; ES modules import it as usual.
import { existsSync, statSync } from 'node:fs';

/** `bundled` when it exists, `use` is not false and it is no older than `plain`; else `plain`. */
export function freshBundleOr(plain: string, bundled: string, use = true): string {
  return use && existsSync(bundled) && existsSync(plain) && statSync(bundled).mtimeMs >= statSync(plain).mtimeMs ? bundled : plain;
}
