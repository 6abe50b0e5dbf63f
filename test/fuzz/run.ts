// The long fuzz run (not part of `npm test`): `npm run fuzz -- --inputs=1000000` runs that many
// inputs through each target (node port v1, node port v2, driver IPC decoder) and prints one
// JSON line per target: inputs, accepted, typed errors, crashes (must be 0) and the largest RSS
// seen (must stay bounded). Exit status 1 on any crash. --seed=N picks another input sequence.
import { fuzzIpc, fuzzPort, v1Target, v2Target, type FuzzCounts } from './node-port.js';

const arg = (name: string, dflt: number) => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.slice(name.length + 3)) : dflt;
};
const inputs = arg('inputs', 1_000_000);
const v2Inputs = arg('v2inputs', inputs);
const seed = arg('seed', 1);
const only = process.argv.find((x) => x.startsWith('--only='))?.slice(7);

const runs: Array<[string, () => FuzzCounts]> = [
  ['node-port-v1', () => fuzzPort(v1Target(), inputs, seed)],
  ['node-port-v2', () => fuzzPort(v2Target(), v2Inputs, seed)],
  ['ipc-decoder', () => fuzzIpc(inputs, seed)],
];
let crashes = 0;
const rssStart = process.memoryUsage().rss;
for (const [name, run] of runs) {
  if (only && only !== name) continue;
  const t0 = Date.now();
  const r = run();
  crashes += r.crashes;
  console.log(
    JSON.stringify({
      ...r,
      seconds: Math.round((Date.now() - t0) / 100) / 10,
      rssStartMB: Math.round(rssStart / 1e6),
      maxRssMB: Math.round(r.maxRss / 1e6),
    }),
  );
}
process.exit(crashes ? 1 : 0);
