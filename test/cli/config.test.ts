import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigLineError, LINK_TYPES, OPTIONS, loadConfig, optionsHelp, parseConfig, parseHostPort } from '../../src/cli/config.js';
import { memoryIO } from '../../src/cli/io.js';
import { isLoopback } from '../../src/util/net.js';
import { configErrorOf } from '../helpers/errors.js';

const configError = (fn: () => unknown) => configErrorOf<ConfigLineError>(fn);

describe('parseConfig', () => {
  it('gives every option its default from an empty file', () => {
    const c = parseConfig('', 'altnet.conf', { env: { HOME: '/home/pi' } });
    expect(c.network).toBe('main');
    expect(c.listen).toEqual({ host: '127.0.0.1', port: 8334 });
    expect(c.metrics).toBeUndefined();
    expect(c.loglevel).toBe('info');
    expect(c.logjson).toBe(false);
    expect(c.stalewatchprob).toBe(1e-4);
    expect(c.callsign).toBeUndefined();
    expect(c.datadir).toBe('/home/pi/.altnet');
    expect(c.devicedir).toBe('/dev/altnet');
    expect(c.linkrestartmax).toBe(300_000);
    expect(c.links).toEqual({});
  });

  it('uses systemd STATE_DIRECTORY for the data dir when set', () => {
    const c = parseConfig('', 'x.conf', { env: { HOME: '/root', STATE_DIRECTORY: '/var/lib/altnet' } });
    expect(c.datadir).toBe('/var/lib/altnet');
  });

  it('reads key=value lines, comments, blank lines, quotes and case-insensitive keys', () => {
    const text = [
      '# altnet test config',
      '',
      'network = regtest   # trailing comment',
      'LogLevel=debug',
      'logjson=yes',
      'callsign="DL1ABC-7"',
      'metrics=127.0.0.1:9464',
      'stalewatchprob=2e-5',
      'maxlinkmsg=100000',
      'linkrestartmax=90s',
      'datadir=/srv/altnet',
      '\tbeacon=1',
    ].join('\r\n');
    const c = parseConfig(text, '/etc/altnet/altnet.conf');
    expect(c.network).toBe('regtest');
    expect(c.loglevel).toBe('debug');
    expect(c.logjson).toBe(true);
    expect(c.callsign).toBe('DL1ABC-7');
    expect(c.metrics).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(c.stalewatchprob).toBe(2e-5);
    expect(c.maxlinkmsg).toBe(100000);
    expect(c.linkrestartmax).toBe(90_000);
    expect(c.datadir).toBe('/srv/altnet');
    expect(c.beacon).toBe(true);
    expect(c.sources.callsign).toEqual({ file: '/etc/altnet/altnet.conf', line: 6 });
  });

  it('groups dotted link keys by link name and checks the type', () => {
    const text = [
      'link.lora0.type=lora',
      'link.lora0.board=rak3172',
      'link.lora0.device=/dev/altnet/rak3172-0',
      'link.esp.type=Esplora',
      'link.esp.url=http://127.0.0.1:3002',
    ].join('\n');
    const c = parseConfig(text, 'a.conf');
    expect(c.links).toEqual({
      lora0: { type: 'lora', board: 'rak3172', device: '/dev/altnet/rak3172-0' },
      esp: { type: 'esplora', url: 'http://127.0.0.1:3002' },
    });
    const lora = c.linkConfigs.find((l) => l.name === 'lora0')!;
    expect(lora.type).toBe('lora');
    expect(lora.sources.device).toEqual({ file: 'a.conf', line: 3 });
  });

  it('rejects a link without a type, naming the file and line', () => {
    const e = configError(() => parseConfig('\n\nlink.x.board=rak3172\n', 'my.conf'));
    expect(e.code).toBe('config-link-type');
    expect(e.message).toMatch(/^my\.conf:3: link "x" has no type/);
  });

  it('rejects an unknown link type and lists the known ones', () => {
    const e = configError(() => parseConfig('link.x.type=carrierpigeon', 'my.conf'));
    expect(e.code).toBe('config-link-type');
    expect(e.message).toContain('my.conf:1:');
    for (const t of LINK_TYPES) expect(e.message).toContain(t);
  });

  it('rejects malformed link keys', () => {
    expect(configError(() => parseConfig('link.x=1', 'c')).code).toBe('config-bad-link');
    expect(configError(() => parseConfig('link.a.b.c=1', 'c')).code).toBe('config-bad-link');
    expect(configError(() => parseConfig('link.bad name.type=lora', 'c')).code).toBe('config-bad-link');
  });

  it('names an unknown key with file, line and a suggestion', () => {
    const e = configError(() => parseConfig('network=main\n# x\nlogleve=debug\n', '/etc/altnet/altnet.conf'));
    expect(e.code).toBe('config-unknown-key');
    expect(e.file).toBe('/etc/altnet/altnet.conf');
    expect(e.line).toBe(3);
    expect(e.message).toBe(
      '/etc/altnet/altnet.conf:3: unknown option "logleve" (did you mean "loglevel"?); `altnet run --help` lists them',
    );
  });

  it.each([
    ['network=mainnet', 'config-bad-value', /expected one of main, testnet4, signet, regtest/],
    ['logjson=maybe', 'config-bad-value', /expected 1 or 0/],
    ['maxlinkmsg=12k', 'config-bad-value', /whole number/],
    ['maxlinkmsg=10', 'config-bad-value', /at least 1024/],
    ['maxlinks=100', 'config-bad-value', /at most 64/],
    ['linkheap=8', 'config-bad-value', /at least 16/],
    ['stalewatchprob=0.9', 'config-bad-value', /at most 0.5/],
    ['stalewatchprob=abc', 'config-bad-value', /expected a number/],
    ['linkrestartmax=5 fortnights', 'config-bad-value', /duration/],
    ['linkrestartmax=2d', 'config-bad-value', /at most 1d/],
    ['listen=127.0.0.1', 'config-bad-value', /host:port/],
    ['listen=127.0.0.1:70000', 'config-bad-value', /1-65535/],
    ['listen=0.0.0.0:8334', 'config-not-loopback', /allowremote=1/],
    ['metrics=192.168.1.5:9464', 'config-not-loopback', /loopback/],
    ['callsign=bitcoin', 'config-bad-value', /callsign/],
    ['just some words', 'config-syntax', /expected key=value/],
    ['[mainnet]', 'config-bad-section', /unknown section/],
    ['[test]', 'config-bad-section', /testnet4/],
    ['[regtest]\nnetwork=regtest', 'config-bad-section', /top of the file/],
  ])('rejects %j with %s', (text, code, msg) => {
    const e = configError(() => parseConfig(`# header\n${text}`, 'bad.conf'));
    expect(e.code).toBe(code);
    expect(e.message).toMatch(/^bad\.conf:\d+: /);
    expect(e.message).toMatch(msg);
  });

  it('rejects a key set twice in the same scope, naming both lines', () => {
    const e = configError(() => parseConfig('beacon=1\nloglevel=info\nbeacon=0', 'c.conf'));
    expect(e.code).toBe('config-duplicate-key');
    expect(e.message).toBe('c.conf:3: "beacon" is already set on line 1; set it once');
  });

  it('accepts a remote listen address only with allowremote=1', () => {
    const c = parseConfig('listen=0.0.0.0:8334\nallowremote=1', 'c');
    expect(c.listen).toEqual({ host: '0.0.0.0', port: 8334 });
  });

  it('applies only the selected network section, over top-level values', () => {
    const text = [
      'loglevel=warn',
      'listen=127.0.0.1:8334',
      'network=regtest',
      '[main]',
      'listen=127.0.0.1:8000',
      'link.main0.type=p2p',
      '[regtest]',
      'listen=127.0.0.1:18444',
      'link.sim0.type=sim',
      '[signet]',
      'loglevel=bogus',
    ].join('\n');
    // A bad value in an unused section is still an error: it would bite on switching network.
    expect(configError(() => parseConfig(text, 'c')).message).toMatch(/^c:11: loglevel=bogus/);
    const ok = parseConfig(text.replace('loglevel=bogus', 'loglevel=debug'), 'c');
    expect(ok.listen.port).toBe(18444);
    expect(ok.loglevel).toBe('warn');
    expect(Object.keys(ok.links)).toEqual(['sim0']);
  });

  it('accepts the one-line section prefix form', () => {
    const c = parseConfig('regtest.listen=127.0.0.1:18555\nmain.listen=127.0.0.1:8335', 'c', { flags: ['-regtest'] });
    expect(c.network).toBe('regtest');
    expect(c.listen.port).toBe(18555);
  });

  it('lets command-line flags override the file, including links', () => {
    const c = parseConfig('loglevel=warn\nbeacon=1\nlink.l.type=lora\nlink.l.device=/dev/a', 'c', {
      flags: ['-loglevel=debug', '--nobeacon', '-logjson', '-link.l.device=/dev/b', '--network=signet'],
    });
    expect(c.loglevel).toBe('debug');
    expect(c.beacon).toBe(false);
    expect(c.logjson).toBe(true);
    expect(c.network).toBe('signet');
    expect(c.links.l.device).toBe('/dev/b');
    expect(c.sources.loglevel).toEqual({ file: 'command line', line: 1 });
  });

  it('reports a bad flag by its position on the command line', () => {
    const e = configError(() => parseConfig('', 'c', { flags: ['-beacon', '-loglevel=loud'] }));
    expect(e.message).toMatch(/^command line:2: loglevel=loud/);
    expect(configError(() => parseConfig('', 'c', { flags: ['stray'] })).code).toBe('config-bad-flag');
    expect(configError(() => parseConfig('', 'c', { flags: ['-nosuch=1'] })).code).toBe('config-unknown-key');
  });

  it('resolves relative paths in the file against its directory and flags against cwd', () => {
    const c = parseConfig('datadir=state', '/etc/altnet/altnet.conf', { flags: ['-devicedir=./devs'], cwd: '/home/pi' });
    expect(c.datadir).toBe('/etc/altnet/state');
    expect(c.devicedir).toBe('/home/pi/devs');
    expect(parseConfig('datadir=~/x', 'c', { env: { HOME: '/h' } }).datadir).toBe('/h/x');
  });

  it('stores the callsign in capitals', () => {
    expect(parseConfig('callsign=dl1abc-7', 'c').callsign).toBe('DL1ABC-7');
  });

  it('refuses binary junk instead of guessing', () => {
    expect(configError(() => parseConfig('a=\0\0', 'c')).code).toBe('config-syntax');
  });
});

describe('host:port', () => {
  it('parses IPv4, bracketed IPv6 and a bare port', () => {
    expect(parseHostPort('127.0.0.1:8334')).toEqual({ host: '127.0.0.1', port: 8334 });
    expect(parseHostPort('[::1]:9464')).toEqual({ host: '::1', port: 9464 });
    expect(parseHostPort('9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(() => parseHostPort('::1:9464')).toThrow();
  });
  it('knows loopback from the rest', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', '::ffff:127.0.0.1']) expect(isLoopback(h)).toBe(true);
    for (const h of ['0.0.0.0', '10.0.0.1', '::', '128.0.0.1', 'example.org', '127.0.0.256']) expect(isLoopback(h)).toBe(false);
  });
});

describe('optionsHelp', () => {
  it('documents every option with its default and range', () => {
    const help = optionsHelp();
    for (const o of OPTIONS) expect(help).toContain(`-${o.name}=`);
    expect(help).toContain('-network=<main|testnet4|signet|regtest>');
    expect(help).toContain('(default: 127.0.0.1:8334)');
    expect(help).toMatch(/range: 1024\.\.32000000/);
    expect(help).toContain('link.<name>.type=<lora|kiss|ble|p2p|peers|esplora|electrum|dns|sim|module>');
    for (const line of help.split('\n')) expect(line.length).toBeLessThanOrEqual(100);
  });
});

describe('loadConfig', () => {
  it('reads --conf and applies the remaining flags over it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'altnet-conf-'));
    try {
      writeFileSync(join(dir, 'a.conf'), 'loglevel=warn\nnetwork=regtest\n');
      const io = memoryIO({ HOME: dir });
      io.cwd = dir;
      const c = loadConfig(['--conf=a.conf', '-loglevel=error'], io, { defaultPaths: [] });
      expect(c.confFile).toBe(join(dir, 'a.conf'));
      expect(c.network).toBe('regtest');
      expect(c.loglevel).toBe('error');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails clearly when the named file is missing, but not when a default path is', () => {
    const io = memoryIO({});
    const e = configError(() => loadConfig(['-conf=/nonexistent/altnet.conf'], io));
    expect(e.code).toBe('config-file-missing');
    expect(e.message).toContain('/nonexistent/altnet.conf');
    const c = loadConfig([], io, { defaultPaths: ['/nonexistent/altnet.conf'] });
    expect(c.confFile).toBeUndefined();
  });

  it('takes $ALTNET_CONF when no --conf is given, and --conf=none reads nothing', () => {
    const files: Record<string, string> = { '/x/env.conf': 'beacon=1', '/etc/altnet/altnet.conf': 'beacon=0' };
    const readFile = (p: string) => files[p];
    expect(loadConfig([], memoryIO({ ALTNET_CONF: '/x/env.conf' }), { readFile }).beacon).toBe(true);
    expect(loadConfig([], memoryIO({}), { readFile }).beacon).toBe(false);
    expect(loadConfig(['--conf=none'], memoryIO({ ALTNET_CONF: '/x/env.conf' }), { readFile }).confFile).toBeUndefined();
  });
});

describe('altnet.conf.example', () => {
  it('parses, and mentions every option', () => {
    const path = new URL('../../altnet.conf.example', import.meta.url);
    const text = readFileSync(path, 'utf8');
    const c = parseConfig(text, 'altnet.conf.example');
    expect(c.network).toBe('main');
    for (const o of OPTIONS) expect(text).toMatch(new RegExp(`^#? ?${o.name}=`, 'm'));
    // Uncommenting the link examples gives valid links.
    const uncommented = text.replace(/^#(link\.)/gm, '$1');
    expect(Object.keys(parseConfig(uncommented, 'x').links).length).toBeGreaterThan(0);
  });
});

describe('noderpc help', () => {
  it('says that a rescue from an attacker fork needs it, and why (Core keeps no lower-work unrequested block)', () => {
    const help = OPTIONS.find((o) => o.name === 'noderpc')!.help;
    expect(help).toMatch(/attacker/);
    expect(help).toMatch(/unrequested block only if it has at least as much work as its active tip/);
    expect(help).toMatch(/submitblock/);
    expect(optionsHelp()).toContain('submitblock');
  });
});
