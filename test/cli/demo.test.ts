// The README's main command: `altnet demo` must run green on a machine with no hardware and
// no external node, and say what happened.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { REPO_ROOT } from '../harness/data.js';

const CLI = resolve(REPO_ROOT, 'dist/src/cli/main.cjs');

describe('altnet demo', () => {
  it('shows the eclipsed node learning the better chain and being rescued onto it, then exits 0 with a summary', () => {
    const r = spawnSync(process.execPath, [CLI, 'demo', '--blocks=20', '--loss=0.3'], { encoding: 'utf8', timeout: 240_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/A knows B's chain \(headers up to 20\)/);
    expect(r.stdout).toMatch(/A's active tip is B's tip 20 [0-9a-f]{16}…: rescued/);
    expect(r.stdout).toMatch(/B mined block 21; A had its header [\d.]+ s later and it as its tip/);
    // A real fork: the attacker's blocks were mined to another address and end orphaned.
    expect(r.stdout).toMatch(/A's attacker chain: 3, now valid-fork: orphaned/);
    expect(r.stdout).toMatch(/headers came over +lora/);
    expect(r.stdout).toMatch(/blocks came from +blocks \(20 verified\); to A as 18 unsolicited P2P blocks \+ 2 over RPC/);
    expect(r.stdout).toMatch(/rescue took +[\d.]+ s/);
    expect(r.stdout).toMatch(/A's tip = B's tip +yes, height 20/);
    expect(r.stdout).toMatch(/frames on the air +\d+ \(\d+ bytes/);
    expect(r.stdout).toMatch(/A's peers \/ bans +1 \/ 0/);
  }, 250_000);

  it("README's SF9 run with 40% loss on the physically honest air finishes within the duty cycle", () => {
    const r = spawnSync(process.execPath, [CLI, 'demo', '--sf=9', '--loss=0.4'], { encoding: 'utf8', timeout: 240_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/one 115-byte frame takes 0\.62 s of airtime; the duty cycle allows one every 6\.2 s on average/);
    expect(r.stdout).toMatch(/A's active tip is B's tip 30 [0-9a-f]{16}…: rescued/);
  }, 250_000);

  it("README's SF12 run with 40% loss finishes, the radio side on compressed time, and says so", () => {
    const r = spawnSync(process.execPath, [CLI, 'demo', '--sf=12', '--loss=0.4'], { encoding: 'utf8', timeout: 400_000 });
    expect(r.stderr).toBe('');
    expect(r.status, r.stdout.slice(-3000)).toBe(0);
    expect(r.stdout).toMatch(/simulated time: the air, its duty-cycle limiters and the beacon's timers run 23x faster than real time/);
    expect(r.stdout).toMatch(/A's active tip is B's tip 30 [0-9a-f]{16}…: rescued/);
    expect(r.stdout).toMatch(/A learned B's chain +[\d.]+ s from start \(\d+ s of simulated air time\)/);
  }, 420_000);

  it('rejects a bad flag with a clear message and exit code 2', () => {
    const r = spawnSync(process.execPath, [CLI, 'demo', '--sf=13'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--sf=13: must be an integer in [7, 12]');
  });
});
