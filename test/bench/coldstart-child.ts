// Child process of the cold-start bench (coldstart.ts): in a fresh process, validates the shared
// 8,065 mainnet headers into a fresh chain 11 times and prints, per run, the CPU time of this
// process's main thread (the thread that validates, from /proc/self/task/<pid>/schedstat),
// of the whole process (process.cpuUsage: also V8's compiler and GC threads) and the wall time;
// and the main-thread CPU of constructing the chain (the first one compiles the hashing module).
import { readFileSync } from 'node:fs';
import { HeaderChain } from '../../src/chain/chain.js';
import { NETWORKS } from '../../src/chain/networks.js';
import { Counters } from '../../src/util/counters.js';
import { silentLogger } from '../../src/util/log.js';
import { warmUpHeaderValidation } from '../../src/chain/warmup.js';
import { SHARED_DATA } from '../harness/data.js';

const RUNS = 11;
const schedstat = `/proc/self/task/${process.pid}/schedstat`;
const cell = new Int32Array(new SharedArrayBuffer(4));
/**
 * CPU ms of the main thread so far: the first field of its schedstat, time on a CPU in ns. The
 * kernel brings that figure up to date only when the thread leaves the CPU (else it lags by up
 * to a scheduler tick, 4 ms here): a 50 us sleep first makes it exact.
 */
function mainThreadMs(): number {
  Atomics.wait(cell, 0, 0, 0.05);
  return Number(readFileSync(schedstat, 'latin1').split(' ')[0]) / 1e6;
}

const file = new Uint8Array(readFileSync(SHARED_DATA.recentHeaders));
const headers: Uint8Array[] = [];
for (let o = 0; o + 80 <= file.length; o += 80) headers.push(file.subarray(o, o + 80));
// With ALTNET_BENCH_WARMUP=1, first what the gateway does at start-up (src/gateway/gateway.ts):
// the validation warm-up, its cost measured; then a pause of WARMUP_PAUSE_MS before the first real
// run, shorter than the daemon's link drivers take to start and deliver a first batch (a bare
// Node process alone takes ~40 ms to start here), in which V8's compiler threads finish.
const WARMUP_PAUSE_MS = 50;
let warmUp: { mainMs: number; processMs: number; wallMs: number; accepted: number } | undefined;
if (process.env.ALTNET_BENCH_WARMUP === '1') {
  const m0 = mainThreadMs();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const w = warmUpHeaderValidation(NETWORKS.main);
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(c0);
  warmUp = { mainMs: mainThreadMs() - m0, processMs: (c.user + c.system) / 1000, wallMs, accepted: w.accepted };
  await new Promise((r) => setTimeout(r, WARMUP_PAUSE_MS));
}
const runs: { mainMs: number; processMs: number; wallMs: number; constructMs: number }[] = [];
for (let r = 0; r < RUNS; r++) {
  const k0 = mainThreadMs();
  const chain = new HeaderChain({ network: NETWORKS.main, log: silentLogger(), counters: new Counters(), nowSeconds: () => 1_800_000_000 });
  const constructMs = mainThreadMs() - k0;
  const m0 = mainThreadMs();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const res = chain.addHeaders(headers);
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(c0);
  const mainMs = mainThreadMs() - m0;
  if (res.rejected || res.accepted !== headers.length) throw new Error('cold-start bench: validation failed');
  runs.push({ mainMs, processMs: (c.user + c.system) / 1000, wallMs, constructMs });
}
process.stdout.write(JSON.stringify({ headers: headers.length, runs, warmUp }) + '\n');
