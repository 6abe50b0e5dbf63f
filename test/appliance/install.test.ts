import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { MAIN_NODE_FLAGS, MEMORY_ENV } from '../../src/util/node-memory.js';

const REPO = resolve(new URL('../..', import.meta.url).pathname);

const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

function stage(): string {
  const d = mkdtempSync(join(tmpdir(), 'altnet-destdir-'));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

function sh(script: string, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync('bash', [join(REPO, 'scripts', script), ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 60_000,
  });
  if (r.error) throw r.error;
  return { code: r.status, out: r.stdout + r.stderr };
}

function mode(path: string): number {
  return statSync(path).mode & 0o777;
}

/** systemd-analyze verify on a staged root: needs the system's own units beside ours. */
function verifyUnit(root: string): string {
  if (!existsSync(join(root, 'usr/lib/systemd/system'))) {
    mkdirSync(join(root, 'usr/lib/systemd'), { recursive: true });
    // cp -a: masked units are symlinks to /dev/null, which must stay symlinks.
    const cp = spawnSync('cp', ['-a', '/usr/lib/systemd/system', join(root, 'usr/lib/systemd/system')]);
    expect(cp.status).toBe(0);
  }
  const r = spawnSync('systemd-analyze', ['verify', `--root=${root}`, 'altnet.service'], { encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  return `${r.status}\n${r.stdout}${r.stderr}`;
}

describe('scripts/install.sh with DESTDIR', () => {
  it('stages program, launcher, config, unit and udev rules without touching the running system', () => {
    const root = stage();
    const realConfBefore = existsSync('/etc/altnet/altnet.conf');
    const r = sh('install.sh', ['--no-npm', '--ble'], { DESTDIR: root });
    expect(r.code, r.out).toBe(0);

    const app = join(root, 'opt/altnet');
    expect(existsSync(join(app, 'dist/src/cli/main.cjs'))).toBe(true);
    expect(existsSync(join(app, 'boards/rak3172.json'))).toBe(true);
    expect(existsSync(join(app, 'package-lock.json'))).toBe(true);
    const launcher = readFileSync(join(app, 'bin/altnet'), 'utf8');
    expect(launcher).toContain('"/opt/altnet/dist/src/cli/main.cjs" "$@"');
    // The main process runs with the memory settings of src/util/node-memory.ts (issue 18).
    expect(launcher).toContain(
      `exec env ${Object.entries(MEMORY_ENV)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')} "`,
    );
    expect(launcher).toContain(`" ${MAIN_NODE_FLAGS.join(' ')} "/opt/altnet/dist/src/cli/main.cjs"`);
    expect(mode(join(app, 'bin/altnet'))).toBe(0o755);
    expect(readlinkSync(join(root, 'usr/local/bin/altnet'))).toBe('/opt/altnet/bin/altnet');

    expect(readFileSync(join(root, 'etc/altnet/altnet.conf'), 'utf8')).toBe(readFileSync(join(REPO, 'altnet.conf.example'), 'utf8'));
    expect(mode(join(root, 'etc/altnet/altnet.conf'))).toBe(0o640);
    expect(readFileSync(join(root, 'etc/udev/rules.d/70-altnet.rules'), 'utf8')).toBe(
      readFileSync(join(REPO, 'udev/70-altnet.rules'), 'utf8'),
    );
    const unit = readFileSync(join(root, 'etc/systemd/system/altnet.service'), 'utf8');
    expect(unit).toContain('ExecStart=/opt/altnet/bin/altnet run --conf=/etc/altnet/altnet.conf');
    expect(existsSync(join(root, 'etc/systemd/system/altnet.service.d/ble.conf'))).toBe(true);

    // Staged: said what it would do on a live system, did none of it.
    expect(r.out).toContain('(DESTDIR set, not running) systemctl enable altnet.service');
    expect(r.out).toContain('(DESTDIR set, not running) udevadm control --reload-rules');
    expect(r.out).toContain('(DESTDIR set, not running) useradd');
    expect(existsSync('/etc/altnet/altnet.conf')).toBe(realConfBefore);
  });

  it('never overwrites an existing altnet.conf, and drops the BLE drop-in when reinstalled without --ble', () => {
    const root = stage();
    expect(sh('install.sh', ['--no-npm', '--ble', '--no-start'], { DESTDIR: root }).code).toBe(0);
    writeFileSync(join(root, 'etc/altnet/altnet.conf'), 'callsign=DL1ABC\n');
    const again = sh('install.sh', ['--no-npm'], { DESTDIR: root });
    expect(again.code, again.out).toBe(0);
    expect(again.out).toContain('keeping existing');
    expect(readFileSync(join(root, 'etc/altnet/altnet.conf'), 'utf8')).toBe('callsign=DL1ABC\n');
    expect(existsSync(join(root, 'etc/systemd/system/altnet.service.d'))).toBe(false);
  });

  it('substitutes --prefix in the unit and the launcher', () => {
    const root = stage();
    expect(sh('install.sh', ['--no-npm', '--prefix=/srv/altnet', `--destdir=${root}`]).code).toBe(0);
    expect(readFileSync(join(root, 'etc/systemd/system/altnet.service'), 'utf8')).toContain('ExecStart=/srv/altnet/bin/altnet run');
    expect(readFileSync(join(root, 'srv/altnet/bin/altnet'), 'utf8')).toContain('"/srv/altnet/dist/src/cli/main.cjs"');
    expect(existsSync(join(root, 'opt/altnet'))).toBe(false);
  });

  it('rejects unknown options', () => {
    const r = sh('install.sh', ['--frobnicate'], { DESTDIR: stage() });
    expect(r.code).toBe(2);
    expect(r.out).toContain('unknown option --frobnicate');
  });

  it('the staged program runs on its own (boards found beside it)', () => {
    const root = stage();
    expect(sh('install.sh', ['--no-npm'], { DESTDIR: root }).code).toBe(0);
    const app = join(root, 'opt/altnet');
    // Stand-in for `npm ci --omit=dev`, which the test does not run.
    symlinkSync(join(REPO, 'node_modules'), join(app, 'node_modules'));
    // The drivers and the CLI run from their esbuild bundles only if the copy kept their times
    // (src/util/bundle-entry.cts).
    for (const [bundle, entry] of [
      ['dist/src/gateway/driver-host.bundle/driver-host.cjs', 'dist/src/gateway/driver-host.js'],
      ['dist/src/cli/cli.bundle/cli.cjs', 'dist/src/cli/cli.js'],
    ]) {
      if (!existsSync(join(REPO, bundle))) continue;
      expect(statSync(join(app, bundle)).mtimeMs).toBe(statSync(join(REPO, bundle)).mtimeMs);
      expect(statSync(join(app, bundle)).mtimeMs).toBeGreaterThanOrEqual(statSync(join(app, entry)).mtimeMs);
    }
    const bundle = 'dist/src/gateway/driver-host.bundle/driver-host.cjs';
    if (existsSync(join(REPO, bundle))) {
      const entry = spawnSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `import(${JSON.stringify(join(app, 'dist/src/gateway/supervisor.js'))}).then((m) => console.log(m.driverHostEntry({})))`,
        ],
        { encoding: 'utf8' },
      );
      expect(entry.stdout.trim(), entry.stderr).toBe(join(app, bundle));
    }
    const r = spawnSync(process.execPath, [join(app, 'dist/src/cli/main.cjs'), 'boards', '--udev-rules'], {
      encoding: 'utf8',
      cwd: '/',
      timeout: 30_000,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(readFileSync(join(REPO, 'udev/70-altnet.rules'), 'utf8'));
  });

  it('installs a unit that `systemd-analyze verify` accepts, with and without the BLE drop-in', () => {
    const root = stage();
    expect(sh('install.sh', ['--no-npm', '--ble'], { DESTDIR: root }).code).toBe(0);
    const ok = verifyUnit(root);
    expect(ok).toBe('0\n');
    // The check can fail: a misspelt hardening key is reported.
    const unitPath = join(root, 'etc/systemd/system/altnet.service');
    writeFileSync(unitPath, readFileSync(unitPath, 'utf8').replace('ProtectClock=yes', 'ProtectClok=yes'));
    expect(verifyUnit(root)).toContain("Unknown key 'ProtectClok'");
  });
});

describe('scripts/uninstall.sh with DESTDIR', () => {
  it('removes program, unit and rules but keeps data and config unless --purge', () => {
    const root = stage();
    expect(sh('install.sh', ['--no-npm', '--ble'], { DESTDIR: root }).code).toBe(0);
    mkdirSync(join(root, 'var/lib/altnet'), { recursive: true });
    writeFileSync(join(root, 'var/lib/altnet/headers.dat'), 'precious');

    const r = sh('uninstall.sh', [], { DESTDIR: root });
    expect(r.code, r.out).toBe(0);
    for (const gone of [
      'opt/altnet',
      'usr/local/bin/altnet',
      'etc/systemd/system/altnet.service',
      'etc/systemd/system/altnet.service.d',
      'etc/udev/rules.d/70-altnet.rules',
    ]) {
      expect(existsSync(join(root, gone)), gone).toBe(false);
    }
    expect(readFileSync(join(root, 'var/lib/altnet/headers.dat'), 'utf8')).toBe('precious');
    expect(existsSync(join(root, 'etc/altnet/altnet.conf'))).toBe(true);
    expect(r.out).toContain('(DESTDIR set, not running) systemctl disable --now altnet.service');

    const p = sh('uninstall.sh', ['--purge'], { DESTDIR: root });
    expect(p.code, p.out).toBe(0);
    expect(existsSync(join(root, 'var/lib/altnet'))).toBe(false);
    expect(existsSync(join(root, 'etc/altnet'))).toBe(false);
    expect(p.out).toContain('(DESTDIR set, not running) userdel altnet');
  });

  it('refuses a prefix whose removal would wipe a system directory', () => {
    const root = stage();
    mkdirSync(join(root, 'usr/local/keep'), { recursive: true });
    const r = sh('uninstall.sh', ['--prefix=/usr/local'], { DESTDIR: root });
    expect(r.code).toBe(2);
    expect(existsSync(join(root, 'usr/local/keep'))).toBe(true);
  });
});
