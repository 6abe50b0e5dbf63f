// `altnet run` as a user runs it: a config file, a real node dialling in, `altnet status`,
// and a clean stop on SIGTERM. Bad configuration is a clear error with file and line.
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { REPO_ROOT } from '../harness/data.js';
import { BitcoindProcess, freePort, sleep } from '../harness/bitcoind.js';

const CLI = resolve(REPO_ROOT, 'dist/src/cli/main.cjs');

describe('altnet run and altnet status', () => {
  const dir = mkdtempSync(join(tmpdir(), 'altnet-run-'));
  let daemon: ChildProcess | undefined;
  let node: BitcoindProcess | undefined;
  let stderr = '';

  afterAll(async () => {
    daemon?.kill('SIGKILL');
    await node?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the node, reports status, and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const conf = join(dir, 'altnet.conf');
    writeFileSync(
      conf,
      `# test config\nnetwork=regtest\nlisten=127.0.0.1:${port}\ndatadir=${join(dir, 'data')}\nloglevel=info\nblockcache=50\n`,
    );
    daemon = spawn(process.execPath, [CLI, 'run', `--conf=${conf}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    daemon.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<number | null>((r) => daemon!.once('exit', (code) => r(code)));
    for (let i = 0; i < 100 && !stderr.includes('ready'); i++) await sleep(100);
    expect(stderr).toContain(`listening for the node address=127.0.0.1:${port}`);

    node = new BitcoindProcess({ name: 'run', args: [`-addnode=127.0.0.1:${port}`] });
    await node.start();
    await node.mine(3);
    const status = await node.waitFor('status shows the node and its 3 blocks', async () => {
      const r = spawnSync(process.execPath, [CLI, 'status', '--json', `--conf=${conf}`], { encoding: 'utf8' });
      if (r.status !== 0) return undefined;
      const s = JSON.parse(r.stdout);
      return s.node.connections === 1 && s.chain.height === 3 && s;
    });
    expect(status.network).toBe('regtest');
    expect(status.node.peers[0].agent).toBe('/Satoshi:30.2.0/');
    expect(status.node.peers[0].transport).toBe('v2');
    const human = spawnSync(process.execPath, [CLI, 'status', `--conf=${conf}`], { encoding: 'utf8' });
    expect(human.stdout).toMatch(/chain: height 3 /);
    expect(human.stdout).toMatch(/node: +1 connection\(s\) \/Satoshi:30\.2\.0\/ v2/);
    // Nothing to rescue (the node is the chain's only source); the block store has its bound.
    expect(human.stdout).toMatch(/rescues: none  \(block store: 0 blocks, 0\.0 of 50 MB\)/);
    expect(status.blocks).toEqual({ stored: 0, bytes: 0, maxBytes: 50_000_000 });

    daemon.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toContain('altnet stopped');
    daemon = undefined;
  });

  it('refuses a bad config value with the file, line and what is wrong', () => {
    const conf = join(dir, 'bad.conf');
    writeFileSync(conf, 'network=regtest\n\nlisten=127.0.0.1:99999\n');
    const r = spawnSync(process.execPath, [CLI, 'run', `--conf=${conf}`], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`${conf}:3:`);
    expect(r.stderr).toContain('port must be 1-65535');
  });

  it('refuses an unknown link type before starting anything', () => {
    const conf = join(dir, 'badlink.conf');
    writeFileSync(conf, 'network=regtest\nlink.x.type=carrier-pigeon\n');
    const r = spawnSync(process.execPath, [CLI, 'run', `--conf=${conf}`], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/badlink\.conf:2:.*carrier-pigeon/);
  });
});
