// One argument grammar for every command (src/cli/args.ts): the parser itself, then every
// command through the real CLI entry: -h/-help/--help with its own usage, --version, the
// bitcoind-style forms, and a closed stdout (`altnet help | head -1`) that stays quiet.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs, type CommandSpec } from '../../src/cli/args.js';
import { configErrorOf } from '../helpers/errors.js';
import { ALTNET_VERSION } from '../../src/util/version.js';
import { REPO_ROOT, SHARED_DATA } from '../harness/data.js';

const CLI = resolve(REPO_ROOT, 'dist/src/cli/main.cjs');
const cli = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ALTNET_CONF: 'none', ...env }, timeout: 30_000 });

const SPEC: CommandSpec = {
  name: 'x',
  options: [
    { name: 'json', type: 'bool' },
    { name: 'mtu', type: 'int', min: 16, max: 255 },
    { name: 'file', type: 'string' },
  ],
};

describe('the argument grammar', () => {
  it("takes -key=value, --key=value and a value option's next argument", () => {
    for (const argv of [['-mtu=51'], ['--mtu=51'], ['--mtu', '51'], ['-mtu', '51']]) {
      expect(parseArgs(argv, SPEC).values.get('mtu'), argv.join(' ')).toBe(51);
    }
  });

  it('takes booleans bare, =1/=0 (and words), and -noflag', () => {
    const b = (argv: string[]) => parseArgs(argv, SPEC).values.get('json');
    expect(b(['--json'])).toBe(true);
    expect(b(['-json'])).toBe(true);
    expect(b(['--json=1'])).toBe(true);
    expect(b(['--json=yes'])).toBe(true);
    expect(b(['--json=0'])).toBe(false);
    expect(b(['-nojson'])).toBe(false);
    expect(b(['--nojson'])).toBe(false);
    expect(() => parseArgs(['--json=maybe'], SPEC)).toThrow(/--json=maybe: expected nothing, 1 or 0/);
  });

  it('knows -h, -help, --help, -? and --version; keeps - and everything after -- positional', () => {
    for (const h of ['-h', '-help', '--help', '-?']) expect(parseArgs([h], SPEC).help, h).toBe(true);
    expect(parseArgs(['--version'], SPEC).version).toBe(true);
    const p = parseArgs(['a', '-', '--', '--json', '-x'], SPEC);
    expect(p.positional).toEqual(['a', '-', '--json', '-x']);
    expect(p.values.size).toBe(0);
  });

  it('refuses unknown options with a did-you-mean, and bad values with the range', () => {
    const err = (argv: string[]) => configErrorOf(() => parseArgs(argv, SPEC));
    expect(err(['--jsn']).message).toContain('unknown option "--jsn" (did you mean --json?)');
    expect(err(['--jsn']).code).toBe('cli-unknown-option');
    expect(err(['--mtu=9']).message).toContain('--mtu=9: must be an integer in [16, 255]');
    expect(err(['--mtu=abc']).message).toContain('expected a whole number');
    expect(err(['--mtu']).message).toContain('--mtu needs a value');
    expect(err(['---x']).code).toBe('cli-bad-option');
  });

  it('hands undeclared options to the config loader for commands that read altnet.conf', () => {
    const p = parseArgs(['-regtest', '--datadir=/x', '-nobeacon', '--json'], { ...SPEC, configFlags: true });
    expect(p.configArgs).toEqual(['-regtest', '--datadir=/x', '-nobeacon']);
    expect(p.values.get('json')).toBe(true);
  });
});

describe('every command, through the CLI', () => {
  const commands = ['run', 'beacon', 'status', 'boards', 'send-tx', 'codec', 'demo'];
  it('answers -h, -help and --help with its own usage, exit 0', () => {
    for (const c of commands) {
      for (const h of ['-h', '-help', '--help']) {
        const r = cli([c, h]);
        expect(r.status, `${c} ${h}: ${r.stderr}`).toBe(0);
        expect(r.stdout, `${c} ${h}`).toMatch(new RegExp(`usage:[\\s\\S]*altnet ${c}`));
      }
    }
    // beacon prints its own usage, not run's.
    expect(cli(['beacon', '--help']).stdout).toMatch(/^usage: altnet beacon/);
    expect(cli(['help', 'send-tx']).stdout).toMatch(/^usage: altnet send-tx/);
  });

  it('prints the version with --version, at the top and per command', () => {
    const pkg = JSON.parse(readFileSync(resolve(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(ALTNET_VERSION).toBe(pkg.version);
    for (const argv of [['--version'], ['-version'], ['status', '--version'], ['codec', '--version']]) {
      const r = cli(argv);
      expect(r.status, argv.join(' ')).toBe(0);
      expect(r.stdout.trim()).toBe(`altnet ${ALTNET_VERSION}`);
    }
  });

  it('accepts the forms the issue found refused', () => {
    const stats = cli(['codec', 'stats', '--json', `--file=${SHARED_DATA.recentHeaders}`]);
    expect(stats.status, stats.stderr).toBe(0);
    expect(JSON.parse(stats.stdout).stream.roundTrip).toBe(true);
    const tx = cli(['codec', 'encode', 'tx', '02'.repeat(120), '--mtu=51']);
    expect(tx.status, tx.stderr).toBe(0);
    expect(
      tx.stdout
        .trim()
        .split('\n')
        .every((l) => l.length <= 102),
    ).toBe(true);
    // status --json=1 parses (exit 1: there is no daemon on this empty datadir).
    const st = cli(['status', '--json=1', '-datadir=/nonexistent/altnet-args-test']);
    expect(st.stderr).toContain('no status at /nonexistent/altnet-args-test/status.json');
    expect(st.status).toBe(1);
  });

  it('refuses an unknown command or option with a suggestion, exit 2', () => {
    const r = cli(['stauts']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('unknown command "stauts" (did you mean "status"?)');
    const b = cli(['boards', '--jsno']);
    expect(b.status).toBe(2);
    expect(b.stderr).toContain('did you mean --json?');
  });

  it('stays quiet when the reader of stdout goes away (altnet help | head -1)', () => {
    // `true` exits at once, so every write of the (long) run --help text meets a closed pipe.
    const r = spawnSync(
      'bash',
      ['-c', `set -o pipefail; "${process.execPath}" "${CLI}" run --help | true; echo "rc=\${PIPESTATUS[0]}" >&2`],
      {
        encoding: 'utf8',
        env: { ...process.env, ALTNET_CONF: 'none' },
      },
    );
    expect(r.stderr).not.toMatch(/EPIPE|Error|at /);
    expect(r.stderr).toMatch(/rc=0/);
    const head = spawnSync('bash', ['-c', `"${process.execPath}" "${CLI}" help | head -1`], { encoding: 'utf8' });
    expect(head.stdout).toBe('usage: altnet <command> [options]\n');
    expect(head.stderr).toBe('');
  });
});
