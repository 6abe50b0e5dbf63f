// Memory figures (issue 18): proportional set size (PSS, /proc/PID/smaps_rollup) of a gateway's
// main process plus its 4 link processes (sim, esplora, electrum, p2p against local servers)
// against 5 bare Node processes (`node -e 'setInterval(()=>{},1e3)'`) running at the same time:
// a bare Node is the floor that isolating each driver in a process costs. PSS splits pages
// shared between processes (the node binary, libraries) among them, so the two sets are
// measured together, each process's share of the shared pages counted once.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SimAir } from '../../src/links/sim/air.js';
import { startEsploraServer } from '../servers/esplora-server.js';
import { startElectrumServer } from '../servers/electrum-server.js';
import { startFakePeer } from '../servers/p2p-peer.js';

/** Kernel-reported memory of a process, kB: Pss, Rss, and the private anonymous part. */
export function smapsRollup(pid: number): { pss: number; rss: number; pssAnon: number } {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { pss: field('Pss'), rss: field('Rss'), pssAnon: field('Pss_Anon') };
}

const mb = (kb: number) => +(kb / 1024).toFixed(1);

function waitLine(child: ChildProcess, timeoutMs: number): Promise<string> {
  return new Promise((res, rej) => {
    let out = '';
    let err = '';
    const timer = setTimeout(
      () => rej(new Error(`memory bench: no answer from the gateway child in ${timeoutMs} ms: ${err.slice(-300)}`)),
      timeoutMs,
    );
    child.stderr?.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-2000)));
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        res(out.slice(0, nl));
      }
    });
    child.once('exit', (code) =>
      rej(new Error(`memory bench: gateway child exited with ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`)),
    );
  });
}

export async function bench(): Promise<Record<string, unknown>> {
  const here = dirname(fileURLToPath(import.meta.url));
  const air = new SimAir({
    loss: 0,
    lora: { sf: 7, bandwidthHz: 125_000, codingRate: 5, preambleSymbols: 8, explicitHeader: true, crc: true, lowDataRateOptimize: 'auto' },
  });
  const airPort = await air.start();
  const esplora = await startEsploraServer();
  const electrum = await startElectrumServer();
  const peer = await startFakePeer();
  const bare: ChildProcess[] = [];
  let gwChild: ChildProcess | undefined;
  try {
    for (let i = 0; i < 5; i++) bare.push(spawn(process.execPath, ['-e', 'setInterval(()=>{},1e3)'], { stdio: 'ignore' }));
    gwChild = spawn(
      process.execPath,
      ['--expose-gc', resolve(here, 'memory-gateway.js'), String(airPort), esplora.url, String(electrum.port), String(peer.port)],
      {
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    const info = JSON.parse(await waitLine(gwChild, 60_000)) as {
      pid: number;
      tipHeight: number;
      links: Array<{ link: string; type: string; pid?: number; state: string }>;
    };
    const gwProcs = [
      { what: 'main', pid: info.pid },
      ...info.links.map((l) => ({ what: `${l.type} link`, pid: l.pid ?? 0, state: l.state })),
    ];
    const gw = gwProcs.map((p) => ({ ...p, ...smapsRollup(p.pid) }));
    const bareM = bare.map((c) => smapsRollup(c.pid!));
    const gwPss = gw.reduce((s, p) => s + p.pss, 0);
    const barePss = bareM.reduce((s, p) => s + p.pss, 0);
    return {
      gateway: gw.map((p) => ({
        process: p.what,
        state: (p as { state?: string }).state,
        pssMB: mb(p.pss),
        pssAnonMB: mb(p.pssAnon),
        rssMB: mb(p.rss),
      })),
      gatewayPssMB: mb(gwPss),
      bareNodePssMB: bareM.map((p) => mb(p.pss)),
      bareNodesPssMB: mb(barePss),
      ratio: +(gwPss / barePss).toFixed(3),
      target: '<= 1.25 (main + 4 link processes vs 5 bare Node processes, same run)',
      chainTipHeight: info.tipHeight,
    };
  } finally {
    if (gwChild && gwChild.exitCode === null) {
      const exited = new Promise((r) => gwChild!.once('exit', r));
      gwChild.stdin?.write('stop\n');
      const t = setTimeout(() => gwChild!.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
    for (const c of bare) c.kill();
    await peer.close();
    await electrum.close();
    await esplora.close();
    await air.close();
  }
}
