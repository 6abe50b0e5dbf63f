// Catch-up over a real AFSK 1200 link: a receive-only gateway 144 headers behind a beacon gateway,
// each on one of two Debian direwolf modems joined through audio, with real Bitcoin Core nodes
// behind them (the scenario is test/bench/catchup-direwolf.ts, also `npm run bench --
// catchup-direwolf`). It runs in its own process: the audio between the modems is paced in real
// time. Checked here: the receiver ends on the beacon's tip, its node has the tip's header, the
// headers crossed the modems (direwolf 2 decoded the beacon's AX.25 frames), and the
// receive-only side never keyed up. No time is asserted (the bench prints it beside its bound).
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { direwolfMissing } from '../emulators/direwolf.js';
import { REPO_ROOT } from '../harness/data.js';

const missing = direwolfMissing();
if (missing) console.warn(`skipping the Dire Wolf catch-up test: ${missing}`);

function runScenario(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [resolve(REPO_ROOT, 'dist/test/bench/catchup-direwolf.js'), '144'], {
      env: { ...process.env, CATCHUP_TIMEOUT_MS: '420000' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr = (stderr + b).slice(-20_000)));
    child.once('error', rej);
    child.once('exit', (code) => res({ code, stdout, stderr }));
  });
}

describe.skipIf(missing !== undefined)('catch-up over two real Dire Wolf modems', () => {
  it('a receive-only gateway 144 headers behind learns them all from the beacon over AFSK 1200', async () => {
    const run = await runScenario();
    expect(run.code, run.stderr).toBe(0);
    const r = JSON.parse(run.stdout.trim().split('\n').pop()!);
    console.log('direwolf catch-up', JSON.stringify({ seconds: r.seconds, boundSeconds: r.boundSeconds, ratio: r.ratio, air: r.air }));
    expect(r.receiverTip).toEqual({ height: 144, hash: r.beaconTip });
    expect(r.nodeHasTip).toBe(true);
    // Over the modems: direwolf 2 decoded frames of the beacon's callsign, one per frame sent at most.
    expect(r.decodedByReceiverModem).toBeGreaterThan(0);
    expect(r.decodedByReceiverModem).toBeLessThanOrEqual(r.beaconFramesTx);
    expect(r.air.transmittedMs[0]).toBeGreaterThan(0);
    // The receive-only side never transmitted: no frames from its link, no audio from its modem.
    expect(r.receiverFramesTx).toBe(0);
    expect(r.air.transmittedMs[1]).toBe(0);
  }, 600_000);
});
