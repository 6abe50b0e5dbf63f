// `npm run bench`: runs every bench module and prints one JSON object on stdout.
// Each module exports `bench(): Promise<Record<string, unknown>>`; add new ones to BENCHES.
// Run one with `npm run bench -- <name>`.

type Bench = () => Promise<Record<string, unknown>>;

const BENCHES: Record<string, () => Promise<{ bench: Bench }>> = {
  bip324: () => import('./bip324.js'),
  proxy: () => import('./bip324-proxy.js'),
  chain: () => import('./chain.js'),
  radio: () => import('./radio.js'),
  catchup: () => import('./catchup.js'),
  codec: () => import('./codec.js'),
  ipc: () => import('./ipc.js'),
  fec: () => import('./fec.js'),
  memory: () => import('./memory.js'),
  coldstart: () => import('./coldstart.js'),
  ble: () => import('./ble.js'),
  gateway: () => import('./gateway.js'),
  rescue: () => import('./rescue.js'),
  'catchup-direwolf': () => import('./catchup-direwolf.js'),
  sources: () => import('../servers/bench.js'),
};

type Summary = { target: string; measured: unknown; met: boolean };

/**
 * Issue 18's targets in one place, each {target, measured, met} as its bench part judged it in
 * this run (memory, fec, ipc, coldstart); absent when none of those parts ran, and a part that
 * ran and failed counts as not met.
 */
function issue18Summary(results: Record<string, unknown>): Record<string, Summary> | undefined {
  const parts = ['memory', 'fec', 'ipc', 'coldstart'].filter((p) => p in results);
  if (parts.length === 0) return undefined;
  const out: Record<string, Summary> = {};
  const part = (p: string) => results[p] as Record<string, unknown> & { error?: string; summary?: unknown };
  for (const p of parts) {
    const r = part(p);
    if (r.error !== undefined) {
      out[p] = { target: `bench part ${p}`, measured: { error: r.error }, met: false };
      continue;
    }
    if (p === 'memory' && r.summary === undefined) {
      // The memory part prints its ratio and target; judged here.
      const ratio = r.ratio as number | undefined;
      out.memory = {
        target: String(r.target ?? 'PSS ratio <= 1.25'),
        measured: ratio ?? null,
        met: typeof ratio === 'number' && ratio <= 1.25,
      };
    } else if (p === 'fec') {
      for (const [k, v] of Object.entries(r.summary as Record<string, Summary>)) out[`fec.${k}`] = v;
    } else {
      out[p] = r.summary as Summary;
    }
  }
  return out;
}

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
  const issue18 = issue18Summary(results);
  process.stdout.write(
    JSON.stringify({ node: process.version, date: new Date().toISOString(), ...(issue18 ? { issue18 } : {}), results }, replacer, 2) + '\n',
  );
}

await main();
