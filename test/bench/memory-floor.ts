// Floor processes of the memory bench (issue 18): memory-floor-driver.ts bundled once per run
// with esbuild (as scripts/bundle.mjs bundles the driver host: CommonJS, minified) and started
// with a source link driver's flags and environment (util/node-memory.ts driverNodeFlags,
// driverEnv), each connected to a local TCP server and exchanging a few messages with the bench
// over fd 3, then left idle like a synced driver.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { driverEnv, driverNodeFlags } from '../../src/util/node-memory.js';

export interface FloorDrivers {
  pids: number[];
  stop(): Promise<void>;
}

/** Starts `n` floor processes in environment `env` (the bench's deployment environment). */
export async function startFloorDrivers(n: number, env: NodeJS.ProcessEnv): Promise<FloorDrivers> {
  const dir = mkdtempSync(join(tmpdir(), 'altnet-bench-floor-'));
  const file = join(dir, 'floor-driver.cjs');
  const esbuild = await import('esbuild');
  await esbuild.build({
    entryPoints: [join(dirname(fileURLToPath(import.meta.url)), 'memory-floor-driver.js')],
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    outfile: file,
    logLevel: 'warning',
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'none',
  });
  const peers: Socket[] = [];
  const server: Server = createServer((s) => {
    peers.push(s);
    s.on('error', () => {});
    s.write(new Uint8Array(100));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const children: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((r) => {
            if (c.exitCode !== null || c.signalCode !== null) return r();
            c.once('exit', () => r());
            c.kill();
          }),
      ),
    );
    for (const s of peers) s.destroy();
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < n; i++) {
      children.push(
        spawn(process.execPath, [...driverNodeFlags('source'), file], {
          stdio: ['ignore', 'ignore', 'inherit', 'pipe'],
          env: { ...driverEnv(env, false), ALTNET_FLOOR_PORT: String(port) },
        }),
      );
    }
    // A few messages each way, as a driver's first exchange with the supervisor.
    await Promise.all(
      children.map(async (c) => {
        const channel = c.stdio[3] as Socket;
        for (let m = 0; m < 5; m++) {
          const reply = new Promise((r, j) => {
            channel.once('data', r);
            c.once('exit', (code) => j(new Error(`memory bench: floor driver exited with ${code}`)));
          });
          channel.write(new Uint8Array(80).fill(m));
          await reply;
        }
      }),
    );
    return { pids: children.map((c) => c.pid!), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
