// Child process of the memory bench (memory.ts): the measured main process. Runs a mainnet
// gateway with 4 links of 4 kinds (sim rx on the air at argv[2], esplora argv[3], electrum
// argv[4], p2p argv[5], all local servers), waits until they are up and have synced what the
// servers have, then prints its own and its link children's pids as JSON and keeps running
// until a line arrives on stdin.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NETWORKS } from '../../src/chain/networks.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { silentLogger } from '../../src/util/log.js';

async function main(): Promise<void> {
  const [airPort, esploraUrl, electrumPort, p2pPort] = process.argv.slice(2);
  const datadir = mkdtempSync(join(tmpdir(), 'altnet-bench-mem-'));
  const links: Array<{ name: string; type: string; options: Record<string, string> }> = [
    { name: 'sim0', type: 'sim', options: { type: 'sim', air: `127.0.0.1:${airPort}`, sf: '7', dutycycle: '0.01', direction: 'rx' } },
    { name: 'esplora0', type: 'esplora', options: { type: 'esplora', url: esploraUrl } },
    { name: 'electrum0', type: 'electrum', options: { type: 'electrum', server: `127.0.0.1:${electrumPort}` } },
    { name: 'p2p0', type: 'p2p', options: { type: 'p2p', peer: `127.0.0.1:${p2pPort}` } },
  ];
  const gw = await Gateway.start({ network: NETWORKS.main, listen: { host: '127.0.0.1', port: 0 }, datadir, links, log: silentLogger() });
  try {
    const end = Date.now() + 20_000;
    while (!links.every((l) => gw.link(l.name)?.state === 'up') && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    // Let the sync settle, then collect garbage so the figure is steady state, not a peak.
    await new Promise((r) => setTimeout(r, 3000));
    (globalThis as { gc?: () => void }).gc?.();
    await new Promise((r) => setTimeout(r, 500));
    const out = {
      pid: process.pid,
      tipHeight: gw.chain.tip().height,
      links: links.map((l) => ({ link: l.name, type: l.type, pid: gw.link(l.name)?.pid, state: gw.link(l.name)?.state })),
    };
    process.stdout.write(JSON.stringify(out) + '\n');
    await new Promise<void>((r) => process.stdin.once('data', () => r()));
  } finally {
    await gw.stop();
    rmSync(datadir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
