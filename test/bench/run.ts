// `npm run bench`: runs every bench module and prints one JSON object on stdout.
// Each module exports `bench(): Promise<Record<string, unknown>>`; add new ones to BENCHES.
// Run one with `npm run bench -- <name>`.

type Bench = () => Promise<Record<string, unknown>>;

const BENCHES: Record<string, () => Promise<{ bench: Bench }>> = {
  bip324: () => import('./bip324.js'),
  proxy: () => import('./bip324-proxy.js'),
  chain: () => import('./chain.js'),
  radio: () => import('./radio.js'),
  codec: () => import('./codec.js'),
  ipc: () => import('./ipc.js'),
  fec: () => import('./fec.js'),
  memory: () => import('./memory.js'),
  coldstart: () => import('./coldstart.js'),
  ble: () => import('./ble.js'),
  gateway: () => import('./gateway.js'),
  rescue: () => import('./rescue.js'),
  sources: () => import('../servers/bench.js'),
};

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const results: Record<string, unknown> = {};
  for (const [name, load] of Object.entries(BENCHES)) {
    if (only.length && !only.includes(name)) continue;
    process.stderr.write(`bench: ${name}...\n`);
    const started = performance.now();
    try {
      results[name] = await (await load()).bench();
    } catch (err) {
      results[name] = { error: err instanceof Error ? err.message : String(err) };
      process.exitCode = 1;
    }
    process.stderr.write(`bench: ${name} done in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  }
  const replacer = (_k: string, v: unknown) => (typeof v === 'bigint' ? v.toString() : v);
  process.stdout.write(JSON.stringify({ node: process.version, date: new Date().toISOString(), results }, replacer, 2) + '\n');
}

await main();
