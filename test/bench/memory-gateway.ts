// The measured gateway of the memory bench (memory.ts): `altnet run` started as the installed
// launcher (scripts/install.sh) starts it: the compiled CLI entry with MAIN_NODE_FLAGS and
// MEMORY_ENV, an altnet.conf of its own naming 4 links of 4 kinds (sim rx on the air at
// `airPort`, esplora, electrum, p2p, all local servers; no built-in defaults), a mainnet chain.
// So the main process loads exactly what the daemon loads (the CLI, the config checker, the
// entry's bundle when the build made one). Ready once <datadir>/status.json (written every 2 s)
// shows the chain at the servers' tip and every link up (or 20 s later); each link process is found among the
// daemon's children by the ALTNET_LINK its supervisor gives it.
// Both the daemon and memory.ts's bare reference processes run in the deployed appliance's
// environment (deploymentEnv): without the inherited variables that change a Node process's
// memory (DEPLOYMENT_UNSET), which a systemd service does not set.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GatewayStatus } from '../../src/gateway/gateway.js';
import { freePort } from '../../src/node/bitcoind.js';
import { MAIN_NODE_FLAGS, nodeMemoryEnv } from '../../src/util/node-memory.js';
import { freshBundleOr } from '../../src/util/bundle-entry.cjs';

export interface MeasuredDaemon {
  pid: number;
  tipHeight: number;
  links: Array<{ link: string; type: string; pid?: number; state: string }>;
  stop(): Promise<void>;
}

/**
 * Inherited variables that change a Node process's memory, removed from the environment of every
 * process the memory bench measures (deploymentEnv), with why: the appliance runs altnet as a
 * systemd service, whose environment has none of them, while a developer's shell or CI may set
 * them, and a bare reference carrying a cost our processes shed (util/node-memory.ts driverEnv
 * drops NODE_EXTRA_CA_CERTS) flatters the ratio. Measured on a bare `node -e
 * 'setInterval(()=>{},1e3)'` (Node 20.20, Pss_Anon, 3 runs each): nothing set 5.23 MB;
 * NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt 6.33; NODE_V8_COVERAGE=dir 5.32;
 * SSL_CERT_FILE/SSL_CERT_DIR, OPENSSL_CONF, UV_THREADPOOL_SIZE=64 unchanged (not listed).
 */
export const DEPLOYMENT_UNSET: Readonly<Record<string, string>> = {
  NODE_EXTRA_CA_CERTS: 'Node builds its root certificate store from the file at start-up: +1.1 MB anonymous per process',
  NODE_OPTIONS: 'extra V8/Node flags (heap sizes, --require) for every process',
  NODE_V8_COVERAGE: 'V8 collects coverage: +0.1 MB anonymous per process, more as code runs',
  GLIBC_TUNABLES: "malloc tunables; the launcher's MEMORY_ENV gives altnet's own",
  MALLOC_ARENA_MAX: "malloc arena count; the launcher and the supervisor give altnet's own",
  MALLOC_TRIM_THRESHOLD_: 'malloc trim threshold',
  MALLOC_MMAP_THRESHOLD_: 'malloc mmap threshold',
  MALLOC_TOP_PAD_: 'malloc top padding',
  LD_PRELOAD: 'a preloaded library (another allocator, a profiler) in every process',
};

/** `env` without DEPLOYMENT_UNSET's variables, and which of them were set (name: why removed). */
export function deploymentEnv(env: NodeJS.ProcessEnv): { env: NodeJS.ProcessEnv; removed: Record<string, string> } {
  const out = { ...env };
  const removed: Record<string, string> = {};
  for (const [name, why] of Object.entries(DEPLOYMENT_UNSET)) {
    if (out[name] === undefined) continue;
    removed[name] = `${out[name]}: ${why}`;
    delete out[name];
  }
  return { env: out, removed };
}

function repoDist(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!readdirSync(dir).includes('package.json') && dirname(dir) !== dir) dir = dirname(dir);
  return resolve(dir, 'dist/src/cli');
}

/** What the entry dist/src/cli/main.cjs runs (src/cli/main.cts): the CLI bundle or cli.js. */
export function mainCliEntry(env: NodeJS.ProcessEnv = process.env): string {
  return freshBundleOr(resolve(repoDist(), 'cli.js'), resolve(repoDist(), 'cli.bundle/cli.cjs'), env.ALTNET_MAIN_BUNDLE !== '0');
}

/** Pids of `pid`'s children by their ALTNET_LINK (the link name the supervisor gave each). */
function linkChildren(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    let children: string;
    try {
      children = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8');
    } catch {
      continue;
    }
    for (const child of children.split(' ').filter(Boolean).map(Number)) {
      try {
        const env = readFileSync(`/proc/${child}/environ`, 'utf8').split('\0');
        const name = env.find((e) => e.startsWith('ALTNET_LINK='))?.slice('ALTNET_LINK='.length);
        if (name) out.set(name, child);
      } catch {
        /* exited meanwhile */
      }
    }
  }
  return out;
}

/**
 * Starts the daemon and resolves once its links are up and synced to `tipHeight` (then a
 * settling pause: V8's memory reducer collects the sync's garbage a few seconds after it ends).
 */
export async function startMeasuredDaemon(opts: {
  airPort: number;
  esploraUrl: string;
  electrumPort: number;
  p2pPort: number;
  tipHeight: number;
  settleMs?: number;
  timeoutMs?: number;
}): Promise<MeasuredDaemon> {
  const datadir = mkdtempSync(join(tmpdir(), 'altnet-bench-mem-'));
  const conf = join(datadir, 'altnet.conf');
  const links = [
    { name: 'sim0', type: 'sim', keys: { air: `127.0.0.1:${opts.airPort}`, sf: '7', dutycycle: '0.01', direction: 'rx' } },
    { name: 'esplora0', type: 'esplora', keys: { url: opts.esploraUrl } },
    { name: 'electrum0', type: 'electrum', keys: { server: `127.0.0.1:${opts.electrumPort}` } },
    { name: 'p2p0', type: 'p2p', keys: { peer: `127.0.0.1:${opts.p2pPort}` } },
  ];
  writeFileSync(
    conf,
    [
      'network=main',
      `datadir=${datadir}`,
      `listen=127.0.0.1:${await freePort()}`, // the config refuses port 0
      'defaults=0',
      'loglevel=warn',
      ...links.flatMap((l) => [`link.${l.name}.type=${l.type}`, ...Object.entries(l.keys).map(([k, v]) => `link.${l.name}.${k}=${v}`)]),
    ].join('\n') + '\n',
  );
  const child: ChildProcess = spawn(process.execPath, [...MAIN_NODE_FLAGS, resolve(repoDist(), 'main.cjs'), 'run', `--conf=${conf}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: nodeMemoryEnv(deploymentEnv(process.env).env),
  });
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-2000)));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
    rmSync(datadir, { recursive: true, force: true });
  };
  try {
    const end = Date.now() + (opts.timeoutMs ?? 60_000);
    let status: GatewayStatus | undefined;
    let syncedAt: number | undefined;
    for (;;) {
      if (child.exitCode !== null)
        throw new Error(`memory bench: altnet run exited with ${child.exitCode}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
      try {
        status = JSON.parse(readFileSync(join(datadir, 'status.json'), 'utf8')) as GatewayStatus;
      } catch {
        status = undefined;
      }
      const synced = status !== undefined && status.chain.height >= opts.tipHeight;
      if (synced && links.every((l) => status!.links.find((s) => s.name === l.name)?.state === 'up')) break;
      // An HTTP source stays `starting` until its first request completes, which may be a long
      // paced fetch begun before the other links synced: synced and 20 s on, measure as it is.
      if (synced) syncedAt ??= Date.now();
      if (syncedAt !== undefined && Date.now() - syncedAt > 20_000) break;
      if (Date.now() > end) {
        throw new Error(
          `memory bench: altnet run not up and synced in time (chain ${status?.chain.height}, links ${JSON.stringify(status?.links.map((l) => [l.name, l.state]))}): ${stderr.slice(-300)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    await new Promise((r) => setTimeout(r, opts.settleMs ?? 8000));
    const pids = linkChildren(child.pid!);
    return {
      pid: child.pid!,
      tipHeight: status!.chain.height,
      links: links.map((l) => ({
        link: l.name,
        type: l.type,
        pid: pids.get(l.name),
        state: status!.links.find((s) => s.name === l.name)!.state,
      })),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
