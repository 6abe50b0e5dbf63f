// The BIP324 proxy as a user starts it: `altnet bip324-proxy` (plain v1 with -to=) and the
// daemon's bip324proxy= option (SOCKS5), each carrying a v1 client to an in-process v2 peer,
// and each stopping cleanly on SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../harness/bitcoind.js';
import { REPO_ROOT } from '../harness/data.js';
import { until, V1Client, V2Peer, versionPayload } from './peers.js';

const CLI = resolve(REPO_ROOT, 'dist/src/cli/main.cjs');

function start(args: string[]): { proc: ChildProcess; log: () => string; exited: Promise<number | null> } {
  const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout!.on('data', (b: Buffer) => (log += b.toString()));
  proc.stderr!.on('data', (b: Buffer) => (log += b.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return { proc, log: () => log, exited };
}

describe('BIP324 proxy from the command line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'altnet-proxy-cli-'));
  const procs: ChildProcess[] = [];
  const peer = new V2Peer();

  afterAll(async () => {
    for (const p of procs) p.kill('SIGKILL');
    await peer.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('altnet bip324-proxy -to=: a plain v1 client reaches the v2 peer', async () => {
    await peer.listen();
    const port = await freePort();
    const p = start(['bip324-proxy', '--conf=none', `-bip324proxy=127.0.0.1:${port}`, `-to=127.0.0.1:${peer.port}`]);
    procs.push(p.proc);
    await until('listening', () => p.log().includes(`address=127.0.0.1:${port}`));
    const c = await V1Client.plain(port);
    c.send('version', versionPayload({ port: 1 }));
    await until('verack', () => c.received.some((m) => m.command === 'verack'));
    await until('the session line', () => /BIP324 session up .*mode=plain .*network=regtest transport=v2/.test(p.log()));
    c.close();
    p.proc.kill('SIGTERM');
    expect(await p.exited).toBe(0);
  });

  it('altnet run with bip324proxy=: a SOCKS5 client reaches the v2 peer', async () => {
    const [port, nodePort] = [await freePort(), await freePort()];
    const p = start([
      'run',
      '--conf=none',
      '-network=regtest',
      `-listen=127.0.0.1:${nodePort}`,
      `-datadir=${join(dir, 'data')}`,
      `-bip324proxy=127.0.0.1:${port}`,
    ]);
    procs.push(p.proc);
    await until('ready', () => p.log().includes('ready'), 20_000);
    expect(p.log()).toContain(`BIP324 proxy listening (SOCKS5 and plain v1) address=127.0.0.1:${port}`);
    const c = await V1Client.viaSocks(port, { host: '127.0.0.1', port: peer.port });
    c.send('version', versionPayload());
    await until('verack', () => c.received.some((m) => m.command === 'verack'));
    c.close();
    p.proc.kill('SIGTERM');
    expect(await p.exited).toBe(0);
  });
});
