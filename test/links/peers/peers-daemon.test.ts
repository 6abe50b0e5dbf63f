// `altnet run` with a `peers` link, as an operator runs it: the daemon fills in the address book
// path in its datadir (peers-<network>-<link>.json), the link finds a real regtest Bitcoin Core
// through a local DNS seed (loopback), the gateway's chain follows that node's headers, and on
// SIGTERM the book is on disk with the peer that worked. Loopback only.
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { REPO_ROOT } from '../../harness/data.js';
import { BitcoindProcess, freePort } from '../../harness/bitcoind.js';
import { startDnsSeed } from '../../servers/dns-seed.js';
import { lifecycle } from '../../servers/lifecycle.js';

const CLI = resolve(REPO_ROOT, 'dist/src/cli/main.cjs');
const { serve } = lifecycle();

describe('altnet run with a peers link', () => {
  const dir = mkdtempSync(join(tmpdir(), 'altnet-peers-run-'));
  let daemon: ChildProcess | undefined;
  let node: BitcoindProcess | undefined;

  afterAll(async () => {
    daemon?.kill('SIGKILL');
    await node?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the address book in the datadir and follows the peer it found through the seed', async () => {
    node = await new BitcoindProcess({ name: 'peers-run' }).start();
    await node.mine(7);
    const seed = await serve(startDnsSeed({ 'seed.altnet.test': ['127.0.0.1'] }));
    const datadir = join(dir, 'data');
    const conf = join(dir, 'altnet.conf');
    writeFileSync(
      conf,
      [
        'network=regtest',
        `listen=127.0.0.1:${await freePort()}`,
        `datadir=${datadir}`,
        'link.rnd.type=peers',
        'link.rnd.seeds=seed.altnet.test',
        `link.rnd.dnsserver=127.0.0.1:${seed.port}`,
        `link.rnd.port=${node.p2pPort}`,
        'link.rnd.connections=1',
      ].join('\n') + '\n',
    );
    const check = spawnSync(process.execPath, [CLI, 'run', `--conf=${conf}`, '--check'], { encoding: 'utf8' });
    expect(check.stdout).toContain(`book=${join(datadir, 'peers-regtest-rnd.json')}`);

    let stderr = '';
    daemon = spawn(process.execPath, [CLI, 'run', `--conf=${conf}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    daemon.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<number | null>((r) => daemon!.once('exit', (code) => r(code)));
    const status = await node
      .waitFor(
        'the daemon follows the peer to height 7',
        async () => {
          const r = spawnSync(process.execPath, [CLI, 'status', '--json', `--conf=${conf}`], { encoding: 'utf8' });
          if (r.status !== 0) return undefined;
          const s = JSON.parse(r.stdout);
          return s.chain.height === 7 && s;
        },
        30_000,
      )
      .catch((e: Error) => {
        throw new Error(`${e.message}\n${stderr}`);
      });
    expect(status.chain.height).toBe(7);
    // The link's log line comes through its driver process and the daemon's stderr, so it can
    // trail the status by a moment on a loaded machine: wait for it rather than read it once.
    await node
      .waitFor('the daemon logs the peer connection', async () => /peers connected .*127\.0\.0\.1/.test(stderr), 10_000)
      .catch((e: Error) => {
        throw new Error(`${e.message}\n${stderr}`);
      });
    expect(seed.questions.map((q) => q.name)).toContain('seed.altnet.test');

    daemon.kill('SIGTERM');
    expect(await exited).toBe(0);
    daemon = undefined;
    const bookPath = join(datadir, 'peers-regtest-rnd.json');
    expect(existsSync(bookPath)).toBe(true);
    const book = JSON.parse(readFileSync(bookPath, 'utf8')) as {
      version: number;
      peers: Array<{ host: string; port: number; lastGood?: number }>;
    };
    expect(book.version).toBe(1);
    expect(book.peers).toEqual([expect.objectContaining({ host: '127.0.0.1', port: node.p2pPort, lastGood: expect.any(Number) })]);
  }, 60_000);
});
