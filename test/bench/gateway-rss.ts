// Child process of the gateway bench (gateway.ts): runs one mainnet gateway with 4 simulated
// LoRa links on the air at 127.0.0.1:<argv[2]>, feeds it the 8,065 real headers of the shared
// file as a link would (batches of 2000 through the router), and prints its memory as JSON.
// Run with --expose-gc so the figure is taken after a full collection.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NETWORKS } from '../../src/chain/networks.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { silentLogger } from '../../src/util/log.js';
import { SHARED_DATA } from '../harness/data.js';

const MB = 1024 * 1024;
const gc = (globalThis as { gc?: () => void }).gc;

function procStatusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((r) => setTimeout(r, 100));
  }
}

const mb = (bytes: number) => +(bytes / MB).toFixed(1);

async function main(): Promise<void> {
  const airPort = Number(process.argv[2]);
  if (!Number.isInteger(airPort) || airPort <= 0) throw new Error('usage: gateway-rss.js <air port>');
  const datadir = mkdtempSync(join(tmpdir(), 'altnet-bench-rss-'));
  const link = (name: string, direction: string) => ({
    name,
    type: 'sim',
    options: { type: 'sim', air: `127.0.0.1:${airPort}`, sf: '7', dutycycle: '0.01', direction },
  });
  const links = [link('lora0', 'duplex'), link('lora1', 'rx'), link('lora2', 'rx'), link('lora3', 'tx')];
  let gw: Gateway | undefined;
  try {
    const startedBefore = process.memoryUsage().rss;
    gw = await Gateway.start({
      network: NETWORKS.main,
      listen: { host: '127.0.0.1', port: 0 },
      datadir,
      links,
      log: silentLogger(),
    });
    const g = gw;
    const end = Date.now() + 15_000;
    while (!links.every((l) => g.link(l.name)?.state === 'up')) {
      if (Date.now() > end) throw new Error(`links not up: ${links.map((l) => `${l.name}=${g.link(l.name)?.state}`).join(' ')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    await settle();
    const beforeHeaders = process.memoryUsage();

    const file = new Uint8Array(readFileSync(SHARED_DATA.recentHeaders));
    const headers: Uint8Array[] = [];
    for (let o = 0; o + 80 <= file.length; o += 80) headers.push(file.slice(o, o + 80));
    const t0 = performance.now();
    let accepted = 0;
    for (let i = 0; i < headers.length; i += 2000) {
      const r = g.router.onLinkHeaders('lora0', headers.slice(i, i + 2000));
      if (r.rejected) throw new Error(`header ${i + r.rejected.index} rejected: ${r.rejected.code} ${r.rejected.message}`);
      accepted += r.accepted;
    }
    const feedMs = performance.now() - t0;
    const tip = g.chain.tip();
    headers.length = 0;
    // Let the context pushes reach the drivers, then measure settled memory.
    await new Promise((r) => setTimeout(r, 1000));
    await settle();
    const after = process.memoryUsage();
    const children = links.map((l) => {
      const pid = g.link(l.name)?.pid;
      return {
        link: l.name,
        direction: l.options.direction,
        pid,
        rssMB: pid ? +((procStatusKb(pid, 'VmRSS') ?? NaN) / 1024).toFixed(1) : null,
        peakMB: pid ? +((procStatusKb(pid, 'VmHWM') ?? NaN) / 1024).toFixed(1) : null,
      };
    });
    const childTotal = children.reduce((s, c) => s + (c.rssMB ?? 0), 0);
    const out = {
      mainRssMB: mb(after.rss),
      mainPeakRssMB: +(process.resourceUsage().maxRSS / 1024).toFixed(1),
      mainHeapUsedMB: mb(after.heapUsed),
      mainExternalMB: mb(after.external),
      mainRssBeforeHeadersMB: mb(beforeHeaders.rss),
      nodeRuntimeRssBeforeGatewayMB: mb(startedBefore),
      linkChildren: children,
      linkChildrenRssMB: +childTotal.toFixed(1),
      mainPlusChildrenRssMB: +(mb(after.rss) + childTotal).toFixed(1),
      headersAccepted: accepted,
      chainTipHeight: tip.height,
      feedMs: +feedMs.toFixed(1),
      gcExposed: gc !== undefined,
      setup:
        'mainnet gateway (default checkpoint 822527), chain file in a temp datadir, 4 sim links (duplex, rx, rx, tx), 8,065 headers through router.onLinkHeaders in batches of 2000, then GC; no node connected',
    };
    process.stdout.write(JSON.stringify(out) + '\n');
  } finally {
    await gw?.stop();
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
