// Link options are checked at start-up against their type's option table: every mistake the
// issue found stops `altnet run` before anything opens, each with its file:line and a
// did-you-mean where one fits; `altnet run --check` prints the resolved configuration and the
// links it would run; `altnet help links` and docs/links.md come from the same tables, and the
// systemd unit's Documentation= names pages the installer really installs.
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { linksHelpMarkdown } from '../../src/cli/help-links.js';
import { openSerialChannel } from '../../src/links/radio/channel.js';
import { linkTypes } from '../../src/links/registry.js';
import { AltnetError } from '../../src/util/errors.js';
import { REPO_ROOT } from '../harness/data.js';

const CLI = resolve(REPO_ROOT, 'dist/src/cli/main.cjs');
const dir = mkdtempSync(join(tmpdir(), 'altnet-linkcheck-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cli = (args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, ALTNET_CONF: '' } });

describe('link options checked at start-up', () => {
  it('refuses every mistake at once, each with file:line, and starts nothing', () => {
    const conf = join(dir, 'bad.conf');
    const datadir = join(dir, 'data-bad');
    const lines = [
      'network=regtest',
      `datadir=${datadir}`,
      'link.e1.type=esplora',
      'link.e1.urll=https://esplora.example.org/api', // 4: misspelt key (and url missing)
      'link.l1.type=lora',
      'link.l1.board=rak3271', // 6: unknown board
      'link.l1.device=/dev/ttyUSB0',
      'link.l1.sf=13', // 8: out of range
      'link.e2.type=esplora',
      'link.e2.url=ftp://example.org', // 10: wrong scheme
      'link.e2.rate=-1', // 11
      'link.k1.type=kiss', // 12: no callsign, would transmit
      'link.k1.tcp=localhost', // 13: no port
      'link.c1.type=electrum',
      'link.c1.server=127.0.0.1:50002',
      'link.c1.fingerprint=zz', // 16
    ];
    writeFileSync(conf, lines.join('\n') + '\n');
    const r = cli(['run', `--conf=${conf}`]);
    expect(r.status).toBe(2);
    const at = (line: number) => `altnet: ${conf}:${line}: `;
    expect(r.stderr).toContain(`${at(4)}link.e1.urll is not an esplora link option: unknown option urll (did you mean url?)`);
    expect(r.stderr).toContain(`${at(3)}link.e1.url is required`);
    expect(r.stderr).toContain(`${at(6)}link.l1.board=rak3271: unknown board (did you mean rak3172?)`);
    expect(r.stderr).toContain(`${at(8)}link.l1.sf=13: expected a whole number from 6 to 12`);
    expect(r.stderr).toContain(`${at(10)}link.e2.url=ftp://example.org: expected an http:// or https:// URL`);
    expect(r.stderr).toContain(`${at(11)}link.e2.rate=-1: expected a whole number from 0 to 600000 requests/min`);
    expect(r.stderr).toContain(`${at(12)}link.k1 (type=kiss) would transmit on amateur radio but has no callsign`);
    expect(r.stderr).toContain(`${at(13)}link.k1.tcp=localhost: expected host:port`);
    expect(r.stderr).toContain(`${at(16)}link.c1.fingerprint=zz: expected a SHA-256 fingerprint`);
    expect(r.stderr).toMatch(/9 problems in the configuration; nothing started/);
    expect(existsSync(datadir)).toBe(false);
  });

  it('a mistake given as a flag points at its place on the command line', () => {
    const r = cli(['run', '--conf=none', '-regtest', '-link.x.type=esplora', '-link.x.url=https://e.example/api', '-link.x.timout=5']);
    expect(r.status).toBe(2);
    // Flags are counted as the config loader sees them (after --conf): -link.x.timout=5 is the 4th.
    expect(r.stderr).toContain(
      'command line:4: link.x.timout is not an esplora link option: unknown option timout (did you mean timeout?)',
    );
  });

  it('--check prints the resolved configuration and the links it would run, opening nothing', () => {
    const conf = join(dir, 'good.conf');
    const datadir = join(dir, 'data-good');
    writeFileSync(
      conf,
      [
        'network=regtest',
        `datadir=${datadir}`,
        'listen=127.0.0.1:18555',
        'link.hf0.type=kiss',
        'link.hf0.tcp=127.0.0.1:8001',
        'link.lora0.type=lora',
        'link.lora0.board=rak3172',
        'link.lora0.device=/dev/ttyUSB9',
        'link.roof.type=lora',
        'link.roof.board=rak3172',
        'link.roof.device=/dev/altnet/ch340-7',
      ].join('\n') + '\n',
    );
    // Receive-only: the kiss link needs no callsign.
    const r = cli(['run', `--conf=${conf}`, '--receive-only', '--check', '-loglevel=debug']);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`config: ${conf}`);
    expect(r.stdout).toContain('mode:   receive-only');
    expect(r.stdout).toMatch(new RegExp(`listen +127\\.0\\.0\\.1:18555 +${conf.replace(/[.]/g, '\\.')}:3`));
    expect(r.stdout).toMatch(/loglevel +debug +command line\n/);
    expect(r.stdout).toMatch(/metrics +\(off\) +default/);
    expect(r.stdout).toMatch(/hf0 +kiss +rx +tcp=127\.0\.0\.1:8001 direction=rx/);
    expect(r.stdout).toContain(
      'warning: link lora0: device /dev/ttyUSB9 does not exist; plug the radio in, check the path with `altnet boards`',
    );
    expect(r.stdout).toContain('warning: link roof: /dev/altnet/ch340-7 is not there yet; the link opens when the radio is plugged in');
    expect(r.stdout).toContain('ok: the daemon would start with 3 links.');
    expect(existsSync(datadir)).toBe(false);

    const j = cli(['run', `--conf=${conf}`, '--check', '--json']);
    expect(j.status).toBe(2); // without --receive-only the kiss link would transmit without a callsign
    const out = JSON.parse(j.stdout);
    expect(out.ok).toBe(false);
    expect(out.options.network).toEqual({ value: 'regtest', source: `${conf}:1` });
    expect(out.links.map((l: { name: string }) => l.name)).toEqual(['hf0', 'lora0', 'roof']);
    expect(out.links[1].device).toEqual({ path: '/dev/ttyUSB9', present: false, hotplug: false });
    expect(out.errors).toEqual([expect.objectContaining({ code: 'callsign-required', file: conf, line: 4 })]);
  });

  it('a missing serial device is an error that says what to do', async () => {
    const err = await openSerialChannel('/dev/ttyUSB9-altnet-test', { baudRate: 115200 } as never).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AltnetError);
    expect((err as AltnetError).code).toBe('device-missing');
    expect((err as Error).message).toMatch(
      /^\/dev\/ttyUSB9-altnet-test does not exist: the radio is not plugged in, or it has another name\. `altnet boards` lists/,
    );
  });
});

describe('link reference', () => {
  it('`altnet help links` lists every type and its keys from the option tables', () => {
    const r = cli(['help', 'links']);
    expect(r.status).toBe(0);
    for (const t of linkTypes()) expect(r.stdout).toContain(`type=${t}\n`);
    expect(r.stdout).toContain('link.<name>.sf=');
    expect(r.stdout).toContain('link.<name>.fingerprint=');
  });

  it('docs/links.md is the generated page (regenerate with `altnet help links --markdown > docs/links.md`)', () => {
    expect(readFileSync(resolve(REPO_ROOT, 'docs/links.md'), 'utf8')).toBe(linksHelpMarkdown() + '\n');
  });

  it("the unit's Documentation= pages exist in a staged install", () => {
    const root = join(dir, 'stage');
    const r = spawnSync('bash', [resolve(REPO_ROOT, 'scripts/install.sh'), '--no-npm'], {
      encoding: 'utf8',
      env: { ...process.env, DESTDIR: root },
      timeout: 120_000,
    });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const unit = readFileSync(join(root, 'etc/systemd/system/altnet.service'), 'utf8');
    const docs = [...unit.matchAll(/^Documentation=(.*)$/gm)].flatMap((m) => m[1].split(/\s+/));
    expect(docs.length).toBeGreaterThanOrEqual(2);
    for (const d of docs) {
      expect(d).toMatch(/^file:\//);
      expect(existsSync(join(root, d.slice('file:'.length))), d).toBe(true);
    }
    expect(docs).toContain('file:/opt/altnet/docs/links.md');
  });
});
