// Tests that spawn child processes (link drivers, the CLI) run compiled JS from dist/.
// Compile once per test run, and only when a source file is newer than the last build.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { REPO_ROOT } from './data.js';

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (entry.name.endsWith('.ts') || entry.name.endsWith('.mjs')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

export default function setup(): void {
  const stamp = resolve(REPO_ROOT, 'dist/.build-stamp');
  const sources = Math.max(newestMtime(resolve(REPO_ROOT, 'src')), newestMtime(resolve(REPO_ROOT, 'test')));
  if (existsSync(stamp) && statSync(stamp).mtimeMs >= sources) return;
  const r = spawnSync(process.execPath, [resolve(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  });
  // tsc still emits JavaScript when there are type errors; type errors fail CI in scripts/setup.sh.
  if (r.status !== 0) process.stderr.write(`global-setup: tsc reported errors (JavaScript emitted anyway):\n${r.stdout.slice(0, 4000)}\n`);
  if (!existsSync(resolve(REPO_ROOT, 'dist/src/gateway/driver-host.js'))) throw new Error('build failed: dist/ was not produced');
  // The driver and CLI bundles, as npm run build makes them (a bundle older than dist/ is skipped).
  const b = spawnSync(process.execPath, [resolve(REPO_ROOT, 'scripts/bundle.mjs')], { cwd: REPO_ROOT, encoding: 'utf8' });
  if (b.status !== 0) throw new Error(`global-setup: scripts/bundle.mjs failed: ${b.stderr.slice(0, 4000)}`);
  writeFileSync(stamp, new Date().toISOString());
}
