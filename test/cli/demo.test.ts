// The README's main command: `altnet demo` must run green on a machine with no hardware and
// no external node, and say what happened.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { REPO_ROOT } from '../harness/data.js';

const CLI = resolve(REPO_ROOT, 'dist/src/cli/main.js');

describe('altnet demo', () => {
  it('shows the eclipsed node learning the better chain, then exits 0 with a summary', () => {
    const r = spawnSync(process.execPath, [CLI, 'demo', '--blocks=20', '--loss=0.3'], { encoding: 'utf8', timeout: 240_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/A now knows B's chain: tip 20 \(headers-only\); it was eclipsed at height 3/);
    expect(r.stdout).toMatch(/B mined block 21; A had its header/);
    expect(r.stdout).toMatch(/frames on the air +\d+ \(\d+ bytes/);
    expect(r.stdout).toMatch(/A's peers \/ bans +1 \/ 0/);
  }, 250_000);

  it('rejects a bad flag with a clear message and exit code 2', () => {
    const r = spawnSync(process.execPath, [CLI, 'demo', '--sf=13'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--sf=13: must be an integer in [7, 12]');
  });
});
