// The `altnet` entry (src/cli/main.cts) runs the CLI's esbuild bundle only when it is at least as
// new as the compiled cli.js (src/util/bundle-entry.cts), so a bare `npx tsc` after a build never
// runs stale code; ALTNET_MAIN_BUNDLE=0 forces cli.js. Checked on a copy of the compiled entry
// beside stand-ins for cli.js and the bundle that say which of them ran.
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { REPO_ROOT } from '../harness/data.js';
import { freshBundleOr } from '../../src/util/bundle-entry.cjs';

describe('which CLI file runs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'altnet-entry-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const plain = join(dir, 'dist/src/cli/cli.js');
  const bundled = join(dir, 'dist/src/cli/cli.bundle/cli.cjs');
  mkdirSync(join(dir, 'dist/src/cli/cli.bundle'), { recursive: true });
  mkdirSync(join(dir, 'dist/src/util'), { recursive: true });
  copyFileSync(resolve(REPO_ROOT, 'dist/src/cli/main.cjs'), join(dir, 'dist/src/cli/main.cjs'));
  copyFileSync(resolve(REPO_ROOT, 'dist/src/util/bundle-entry.cjs'), join(dir, 'dist/src/util/bundle-entry.cjs'));
  writeFileSync(plain, "console.log('plain ' + process.argv.slice(2).join(' '));\n");
  // The bundle stand-in also says whether Node's ESM loader was started before it (the entry is
  // CommonJS so that the daemon's main process never starts it: src/cli/main.cts).
  writeFileSync(
    bundled,
    "console.log('bundle ' + process.argv.slice(2).join(' ') + (process.moduleLoadList.some((m) => m.endsWith('esm/loader')) ? ' after the ESM loader' : ''));\n",
  );
  const at = (file: string, seconds: number) => utimesSync(file, seconds, seconds);
  const altnet = (env: NodeJS.ProcessEnv = {}) => {
    const r = spawnSync(process.execPath, [join(dir, 'dist/src/cli/main.cjs'), 'status', '--json'], {
      encoding: 'utf8',
      env: { ...process.env, ALTNET_MAIN_BUNDLE: undefined, ...env },
    });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout.trim();
  };

  it('the bundle when it is as new as cli.js or newer, with the arguments', () => {
    at(plain, 1_000_000);
    at(bundled, 1_000_000);
    expect(altnet()).toBe('bundle status --json');
    at(bundled, 1_000_100);
    expect(altnet()).toBe('bundle status --json');
    expect(freshBundleOr(plain, bundled)).toBe(bundled);
  });

  it('cli.js when the bundle is older (tsc ran after the build), missing, or ALTNET_MAIN_BUNDLE=0', () => {
    at(bundled, 1_000_000);
    at(plain, 1_000_100);
    expect(altnet()).toBe('plain status --json');
    expect(freshBundleOr(plain, bundled)).toBe(plain);
    at(bundled, 1_000_200);
    expect(altnet({ ALTNET_MAIN_BUNDLE: '0' })).toBe('plain status --json');
    expect(freshBundleOr(plain, bundled, false)).toBe(plain);
    expect(freshBundleOr(plain, join(dir, 'none.js'))).toBe(plain);
  });

  it('the build makes the bundle and the real entry runs it', () => {
    // npm run build (and the test global setup) ran scripts/bundle.mjs after tsc.
    const real = resolve(REPO_ROOT, 'dist/src/cli/cli.bundle/cli.cjs');
    expect(existsSync(real)).toBe(true);
    expect(freshBundleOr(resolve(REPO_ROOT, 'dist/src/cli/cli.js'), real)).toBe(real);
  });

  it("the bundle leaves the link registry's driver imports to files that exist (scripts/bundle.mjs)", () => {
    const bundleDir = resolve(REPO_ROOT, 'dist/src/cli/cli.bundle');
    const imports = new Set<string>();
    for (const f of readdirSync(bundleDir).filter((n) => n.endsWith('.cjs'))) {
      for (const m of readFileSync(join(bundleDir, f), 'utf8').matchAll(/import\("(\.\/\.\.\/[^"]+)"\)/g)) imports.add(m[1]);
    }
    expect([...imports]).toContain('./../../links/esplora/esplora.js');
    for (const i of imports) expect(existsSync(resolve(bundleDir, i)), i).toBe(true);
  });
});
