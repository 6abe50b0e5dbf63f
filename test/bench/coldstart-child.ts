// Child process of the cold-start bench (coldstart.ts): in a fresh process, validates the shared
// 8,065 mainnet headers into a fresh chain 11 times and prints the CPU ms of the first run and
// the median of the others.
import { readFileSync } from 'node:fs';
import { HeaderChain } from '../../src/chain/chain.js';
import { NETWORKS } from '../../src/chain/networks.js';
import { Counters } from '../../src/util/counters.js';
import { silentLogger } from '../../src/util/log.js';
import { SHARED_DATA } from '../harness/data.js';

const file = new Uint8Array(readFileSync(SHARED_DATA.recentHeaders));
const headers: Uint8Array[] = [];
for (let o = 0; o + 80 <= file.length; o += 80) headers.push(file.subarray(o, o + 80));
const runs: number[] = [];
for (let r = 0; r < 11; r++) {
  const chain = new HeaderChain({ network: NETWORKS.main, log: silentLogger(), counters: new Counters(), nowSeconds: () => 1_800_000_000 });
  const c0 = process.cpuUsage();
  const res = chain.addHeaders(headers);
  const c = process.cpuUsage(c0);
  if (res.rejected || res.accepted !== headers.length) throw new Error('cold-start bench: validation failed');
  runs.push((c.user + c.system) / 1000);
}
const warm = runs.slice(1).sort((a, b) => a - b);
process.stdout.write(JSON.stringify({ firstCpuMs: runs[0], warmMedianCpuMs: warm[warm.length >> 1] }) + '\n');
