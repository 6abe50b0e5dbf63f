// Debian's microsocks (a SOCKS5 server, the Tor stand-in) on a free loopback port, with its log
// (it prints each connection and the name it was asked for) collected for assertions.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { freePort } from '../harness/bitcoind.js';

export interface Microsocks {
  port: number;
  /** Everything microsocks printed so far. */
  log(): string;
  close(): Promise<void>;
}

export async function startMicrosocks(): Promise<Microsocks> {
  const port = await freePort();
  let out = '';
  // stdbuf keeps its lines unbuffered, so the log is there as soon as it connects.
  const ms: ChildProcess = spawn('stdbuf', ['-oL', '-eL', 'microsocks', '-i', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  ms.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  ms.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  ms.on('error', () => {});
  const close = () =>
    new Promise<void>((r) => {
      if (ms.exitCode !== null || ms.signalCode !== null) return r();
      ms.once('exit', () => r());
      ms.kill();
    });
  for (let i = 0; ; i++) {
    const ok = await new Promise<boolean>((res) => {
      const s = net.connect(port, '127.0.0.1', () => res(!!s.destroy())).once('error', () => res(false));
    });
    if (ok) break;
    if (i > 100 || ms.exitCode !== null) {
      await close();
      throw new Error(`microsocks did not start (is it installed? scripts/setup.sh installs it): ${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { port, log: () => out, close };
}
