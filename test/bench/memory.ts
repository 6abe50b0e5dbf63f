// Memory figures (issue 18): proportional set size (PSS, /proc/PID/smaps_rollup) of a gateway's
// main process plus its 4 link processes (sim, esplora, electrum, p2p against local servers)
// against 5 bare Node processes (`node -e 'setInterval(()=>{},1e3)'`) running at the same time:
// a bare Node is the floor that isolating each driver in a process costs. PSS splits pages
// shared between processes (the node binary, libraries) among them, so the two sets are
// measured together, each process's share of the shared pages counted once.
// The gateway is `altnet run` as the installed launcher starts it (memory-gateway.ts: the CLI
// entry with MAIN_NODE_FLAGS and MEMORY_ENV; the supervisor gives its drivers theirs); the bare
// processes get neither. Both run in the deployed appliance's environment (memory-gateway.ts
// deploymentEnv: without NODE_EXTRA_CA_CERTS, NODE_OPTIONS and the other inherited variables
// that change a Node process's memory; `settings.envRemoved` says which this run had and why). Once the links are up and synced and the daemon has settled, both sets
// are sampled SAMPLES times a second apart at the same moments; the figures are medians (the
// ratio: the median of the per-sample ratios).
// Then, beside them, the floor of a driver (memory-floor.ts: a process with a driver's flags that
// loads and does only what every bench driver must, none of altnet's code): `driverFloor` says how
// far each link process is from it and what the ratio would be with every driver at the floor.
// The node binary's part (nodeBinaryAlone): PSS also splits its pages with every other Node process
// on the machine, so `nodeBinaryAlone` gives it as if the 10 measured processes ran alone (the
// appliance's case), from the pages each maps (/proc/PID/pagemap), and per-process RSS/PSS of the
// binary beside the totals (nodeBinaryRssMB, nodeBinaryPssMB).
// The CLI and the drivers run from their esbuild bundles when the build made them
// (settings.mainEntry and driverEntry say which); ALTNET_MAIN_BUNDLE=0 and ALTNET_DRIVER_BUNDLE=0
// (npm run --silent bench -- memory) measure them unbundled.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync, realpathSync } from 'node:fs';
import { relative } from 'node:path';
import { driverHostEntry } from '../../src/gateway/supervisor.js';
import { SimAir } from '../../src/links/sim/air.js';
import { driverEnv, driverNodeFlags, MAIN_NODE_FLAGS, nodeMemoryEnv } from '../../src/util/node-memory.js';
import { deploymentEnv, mainCliEntry, startMeasuredDaemon, type MeasuredDaemon } from './memory-gateway.js';
import { startEsploraServer } from '../servers/esplora-server.js';
import { startElectrumServer } from '../servers/electrum-server.js';
import { startFakePeer } from '../servers/p2p-peer.js';
import { startFloorDrivers, type FloorDrivers } from './memory-floor.js';

/** Kernel-reported memory of a process, kB (smaps_rollup): Pss and its anonymous and file parts, Rss, Private_Dirty; and the node binary's part (nodeBinaryKb). */
export function smapsRollup(pid: number): {
  pss: number;
  pssAnon: number;
  pssFile: number;
  rss: number;
  privateDirty: number;
  nodeBinaryRss: number;
  nodeBinaryPss: number;
} {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const binary = nodeBinaryKb(pid);
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return {
    pss: field('Pss'),
    pssAnon: field('Pss_Anon'),
    pssFile: field('Pss_File'),
    rss: field('Rss'),
    privateDirty: field('Private_Dirty'),
    nodeBinaryRss: binary.rss,
    nodeBinaryPss: binary.pss,
  };
}

/**
 * Resident and proportional size of the node binary's mappings in a process, kB (/proc/PID/smaps):
 * the file-backed pages of V8, ICU, OpenSSL and Node's built-in JavaScript a process has touched.
 * Their PSS is split among every process on the machine mapping the same page (other Node
 * processes too), so it moves with the machine's other work; RSS counts the pages this process maps.
 */
export function nodeBinaryKb(pid: number, binary = realpathSync(process.execPath)): { rss: number; pss: number } {
  let rss = 0;
  let pss = 0;
  let inBinary = false;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const mapping = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (mapping) inBinary = mapping[1] === binary;
    else if (inBinary && line.startsWith('Rss:')) rss += Number(line.split(/\s+/)[1]);
    else if (inBinary && line.startsWith('Pss:')) pss += Number(line.split(/\s+/)[1]);
  }
  return { rss, pss };
}

/**
 * The node binary's file pages `pid` has mapped (present in its page tables), as page indexes of
 * the file: /proc/PID/maps for the binary's mappings, /proc/PID/pagemap for each page (bit 63
 * present, bit 61 file page; a written copy-on-write page of .data is anonymous and left out).
 * Readable by the processes' owner; no page frame numbers needed, a file page is known by its offset.
 */
export function nodeBinaryPages(pid: number, binary = realpathSync(process.execPath)): Set<number> {
  const pages = new Set<number>();
  const fd = openSync(`/proc/${pid}/pagemap`, 'r');
  try {
    for (const line of readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')) {
      const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ ([0-9a-f]+) \S+ \S+\s+(.*)$/.exec(line);
      if (!m || m[4] !== binary) continue;
      const start = parseInt(m[1], 16) / 4096;
      const count = parseInt(m[2], 16) / 4096 - start;
      const firstPage = parseInt(m[3], 16) / 4096;
      const entries = Buffer.alloc(count * 8);
      readSync(fd, entries, 0, entries.length, start * 8);
      for (let i = 0; i < count; i++) {
        const high = entries.readUInt32LE(i * 8 + 4);
        if (high & 0x80000000 && high & 0x20000000) pages.add(firstPage + i);
      }
    }
  } finally {
    closeSync(fd);
  }
  return pages;
}

/**
 * The node binary's part of the PSS of the gateway's processes and of the bare ones as if those
 * 10 processes were alone on the machine (a page's 4 kB split among those of them mapping it),
 * from nodeBinaryPages, and how many of its pages the gateway maps that no bare process does.
 * PSS as measured also splits pages with every other Node process running (other checkouts,
 * test runners), so it moves with the machine's other work; this figure does not, and it is
 * what the appliance, where only altnet runs, pays.
 */
function nodeBinaryAlone(gateway: Array<{ what: string; pid: number }>, bare: number[]) {
  const sets = [...gateway.map((p) => p.pid), ...bare].map((pid) => nodeBinaryPages(pid));
  const mappers = new Map<number, number>();
  for (const set of sets) for (const page of set) mappers.set(page, (mappers.get(page) ?? 0) + 1);
  const pss = (set: Set<number>) => [...set].reduce((s, page) => s + 4 / mappers.get(page)!, 0);
  const gwSets = sets.slice(0, gateway.length);
  const bareSets = sets.slice(gateway.length);
  const gatewayPages = new Set(gwSets.flatMap((set) => [...set]));
  return {
    gatewayMB: mb(gwSets.reduce((s, set) => s + pss(set), 0)),
    bareNodesMB: mb(bareSets.reduce((s, set) => s + pss(set), 0)),
    gatewayPagesNotInBare: [...gatewayPages].filter((page) => !bareSets.some((set) => set.has(page))).length,
    pages: Object.fromEntries([...gateway.map((p, i) => [p.what, gwSets[i].size]), ['bare Node', bareSets[0].size]]),
  };
}

const SAMPLES = 5;
/** The floor processes' settling time (as the daemon's after its sync) and samples. */
const FLOOR_SETTLE_MS = 8000;
const FLOOR_SAMPLES = 3;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const mb = (kb: number) => +(kb / 1024).toFixed(1);

export async function bench(): Promise<Record<string, unknown>> {
  const air = new SimAir({
    loss: 0,
    lora: { sf: 7, bandwidthHz: 125_000, codingRate: 5, preambleSymbols: 8, explicitHeader: true, crc: true, lowDataRateOptimize: 'auto' },
  });
  const airPort = await air.start();
  const esplora = await startEsploraServer();
  const electrum = await startElectrumServer();
  const peer = await startFakePeer();
  const bare: ChildProcess[] = [];
  let daemon: MeasuredDaemon | undefined;
  let floor: FloorDrivers | undefined;
  const deployed = deploymentEnv(process.env);
  try {
    for (let i = 0; i < 5; i++)
      bare.push(spawn(process.execPath, ['-e', 'setInterval(()=>{},1e3)'], { stdio: 'ignore', env: deployed.env }));
    daemon = await startMeasuredDaemon({
      airPort,
      esploraUrl: esplora.url,
      electrumPort: electrum.port,
      p2pPort: peer.port,
      tipHeight: esplora.tipHeight,
    });
    const gwProcs = [
      { what: 'main', pid: daemon.pid },
      ...daemon.links.map((l) => ({ what: `${l.type} link`, pid: l.pid ?? 0, state: l.state })),
    ];
    const gwSamples: Array<ReturnType<typeof smapsRollup>[]> = [];
    const bareSamples: Array<ReturnType<typeof smapsRollup>[]> = [];
    for (let i = 0; i < SAMPLES; i++) {
      if (i) await new Promise((r) => setTimeout(r, 1000));
      gwSamples.push(gwProcs.map((p) => smapsRollup(p.pid)));
      bareSamples.push(bare.map((c) => smapsRollup(c.pid!)));
    }
    const alone = nodeBinaryAlone(
      gwProcs,
      bare.map((c) => c.pid!),
    );
    const total = (procs: ReturnType<typeof smapsRollup>[]) => procs.reduce((s, p) => s + p.pss, 0);
    const perProcess = (samples: Array<ReturnType<typeof smapsRollup>[]>, i: number) => {
      const m = (f: keyof ReturnType<typeof smapsRollup>) => mb(median(samples.map((s) => s[i][f])));
      return {
        pssMB: m('pss'),
        pssAnonMB: m('pssAnon'),
        pssFileMB: m('pssFile'),
        privateDirtyMB: m('privateDirty'),
        rssMB: m('rss'),
        nodeBinaryRssMB: m('nodeBinaryRss'),
        nodeBinaryPssMB: m('nodeBinaryPss'),
      };
    };
    const gwPss = median(gwSamples.map(total));
    const barePss = median(bareSamples.map(total));
    const ratios = gwSamples.map((g, i) => total(g) / total(bareSamples[i]));

    // Then the floor of a driver (memory-floor.ts), one per link, sampled with the same gateway
    // and bare processes after the ratio's samples (more processes share the node binary's pages,
    // so these PSS figures are a little lower than the ratio's).
    floor = await startFloorDrivers(gwProcs.length - 1, deployed.env);
    await new Promise((r) => setTimeout(r, FLOOR_SETTLE_MS));
    const floorSamples: Array<ReturnType<typeof smapsRollup>[]> = [];
    for (let i = 0; i < FLOOR_SAMPLES; i++) {
      if (i) await new Promise((r) => setTimeout(r, 1000));
      floorSamples.push([
        ...gwProcs.map((p) => smapsRollup(p.pid)),
        ...bare.map((c) => smapsRollup(c.pid!)),
        ...floor.pids.map(smapsRollup),
      ]);
    }
    const nGw = gwProcs.length;
    const across = (from: number, to: number, f: 'pss' | 'pssAnon') =>
      mb(median(floorSamples.flatMap((s) => s.slice(from, to).map((p) => p[f]))));
    const floorRatio = median(
      floorSamples.map((s) => (s[0].pss + total(s.slice(nGw + bare.length))) / total(s.slice(nGw, nGw + bare.length))),
    );
    return {
      gateway: gwProcs.map((p, i) => ({ process: p.what, state: (p as { state?: string }).state, ...perProcess(gwSamples, i) })),
      gatewayPssMB: mb(gwPss),
      bareNodePssMB: bare.map((_, i) => perProcess(bareSamples, i).pssMB),
      bareNode: perProcess(bareSamples, 0),
      bareNodesPssMB: mb(barePss),
      ratio: +median(ratios).toFixed(3),
      ratioSamples: ratios.map((r) => +r.toFixed(3)),
      nodeBinaryAlone: alone,
      target: '<= 1.25 (main + 4 link processes vs 5 bare Node processes, same run)',
      driverFloor: {
        what: 'a driver process with none of altnet: IPC socket on fd 3, one TCP connection, node:crypto SHA-256, cbor-x (memory-floor-driver.ts), source driver flags and env; sampled with the gateway and bare processes after the ratio',
        pssMB: across(nGw + bare.length, Infinity, 'pss'),
        pssAnonMB: across(nGw + bare.length, Infinity, 'pssAnon'),
        bareNode: { pssMB: across(nGw, nGw + bare.length, 'pss'), pssAnonMB: across(nGw, nGw + bare.length, 'pssAnon') },
        links: gwProcs
          .slice(1)
          .map((p, i) => ({ process: p.what, pssMB: across(i + 1, i + 2, 'pss'), pssAnonMB: across(i + 1, i + 2, 'pssAnon') })),
        ratioWithDriversAtFloor: +floorRatio.toFixed(3),
      },
      chainTipHeight: daemon.tipHeight,
      settings: {
        mainFlags: MAIN_NODE_FLAGS,
        driverFlags: { radio: driverNodeFlags('radio'), source: driverNodeFlags('source') },
        env: { main: nodeMemoryEnv({}), drivers: driverEnv({}, true) },
        // Inherited variables removed from the gateway's and the bare processes' environment
        // (memory-gateway.ts DEPLOYMENT_UNSET): name -> value and why.
        envRemoved: deployed.removed,
        mainEntry: relative(process.cwd(), mainCliEntry()),
        driverEntry: relative(process.cwd(), driverHostEntry()),
      },
    };
  } finally {
    await floor?.stop();
    await daemon?.stop();
    for (const c of bare) c.kill();
    await peer.close();
    await electrum.close();
    await esplora.close();
    await air.close();
  }
}
