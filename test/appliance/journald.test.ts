// Logs under systemd: when stderr is the journal's stream (JOURNAL_STREAM=<dev>:<ino> matches
// fd 2) every line starts with its syslog priority (<3> error, <4> warning, <6> info, <7> debug,
// as sd-daemon(3) prefixes) and carries no timestamp of its own, so `journalctl -p warning` finds
// the warnings and no line shows two times. Anywhere else the lines stay as they were.
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, fstatSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createLogger, journalStream } from '../../src/util/log.js';
import { REPO_ROOT } from '../harness/data.js';
import { freePort, sleep } from '../harness/bitcoind.js';

const CLI = resolve(REPO_ROOT, 'dist/src/cli/main.cjs');
const dir = mkdtempSync(join(tmpdir(), 'altnet-journal-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('journald-aware logger', () => {
  it('prefixes the priority and drops its own timestamp', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'debug', journal: true, write: (l) => lines.push(l) }).child('link:lora0');
    log.error('e', { code: 'x' });
    log.warn('two\nlines');
    log.info('i');
    log.debug('d');
    expect(lines).toEqual([
      '<3>ERROR [link:lora0] e code=x',
      '<4>WARN  [link:lora0] two lines',
      '<6>INFO  [link:lora0] i',
      '<7>DEBUG [link:lora0] d',
    ]);
    const json: string[] = [];
    createLogger({ json: true, journal: true, write: (l) => json.push(l) }).warn('w', { a: 1 });
    expect(json).toEqual(['<4>{"level":"warn","msg":"w","a":1}']);
    // Without journal: the timestamp, no prefix.
    const plain: string[] = [];
    createLogger({ write: (l) => plain.push(l), now: () => new Date(0) }).warn('w');
    expect(plain).toEqual(['1970-01-01T00:00:00.000Z WARN  w']);
  });

  it('is used only when JOURNAL_STREAM names the stream stderr really is', () => {
    const st = { dev: 64769, ino: 123456 };
    expect(journalStream({ JOURNAL_STREAM: '64769:123456' }, () => st)).toBe(true);
    expect(journalStream({ JOURNAL_STREAM: '64769:999' }, () => st)).toBe(false);
    expect(journalStream({}, () => st)).toBe(false);
    expect(journalStream({ JOURNAL_STREAM: 'junk' }, () => st)).toBe(false);
  });
});

describe('altnet run with its stderr as the journal stream', () => {
  const runWithStderrFile = async (args: string[], journalStreamFor: (dev: number, ino: number) => string, waitFor?: string) => {
    const file = join(dir, `stderr-${Math.random().toString(36).slice(2)}`);
    writeFileSync(file, '');
    const fd = openSync(file, 'a');
    const st = fstatSync(fd);
    const child = spawn(process.execPath, [CLI, ...args], {
      stdio: ['ignore', 'ignore', fd],
      env: { ...process.env, JOURNAL_STREAM: journalStreamFor(st.dev, st.ino) },
    });
    closeSync(fd);
    const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    if (waitFor) {
      for (let i = 0; i < 200 && !readFileSync(file, 'utf8').includes(waitFor); i++) await sleep(50);
      child.kill('SIGTERM');
    }
    const code = await exited;
    return { code, text: readFileSync(file, 'utf8') };
  };

  it('writes priority-prefixed lines without timestamps, a refusal at <3>', async () => {
    const args = [
      'run',
      '--conf=none',
      '-regtest',
      `-datadir=${join(dir, 'data')}`,
      `-listen=127.0.0.1:${await freePort()}`,
      '-nodewait=0',
    ];
    const r = await runWithStderrFile(args, (dev, ino) => `${dev}:${ino}`, 'ready');
    expect(r.code).toBe(0);
    const lines = r.text.trim().split('\n');
    expect(lines.length).toBeGreaterThan(2);
    for (const l of lines) expect(l).toMatch(/^<[3467]>(ERROR|WARN |INFO |DEBUG) /);
    expect(r.text).toMatch(/^<6>INFO  .*ready/m);
    expect(r.text).not.toMatch(/\d{4}-\d\d-\d\dT\d\d:\d\d/);

    const bad = await runWithStderrFile(['run', '--conf=none', '-regtest', '-listen=127.0.0.1:99999'], (dev, ino) => `${dev}:${ino}`);
    expect(bad.code).toBe(2);
    expect(bad.text).toMatch(/^<3>altnet: command line:2: listen=127\.0\.0\.1:99999: port must be 1-65535$/m);
  });

  it('keeps timestamps when JOURNAL_STREAM names another stream (inherited, stderr redirected)', async () => {
    const args = ['run', '--conf=none', '-regtest', `-datadir=${join(dir, 'data2')}`, `-listen=127.0.0.1:${await freePort()}`];
    const r = await runWithStderrFile(args, (dev, ino) => `${dev}:${ino + 1}`, 'ready');
    expect(r.text).toMatch(/^\d{4}-\d\d-\d\dT\S+ INFO  .*ready/m);
    expect(r.text).not.toMatch(/^<\d>/m);
  });
});
