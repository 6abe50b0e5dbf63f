// The built-in default sources (src/links/defaults.ts): their form (URLs parse, https, onion
// twins over http to .onion, options every driver table accepts), which are chosen when (no
// links, defaults=1, defaults=0, a proxy, a name the user took), and `altnet run --check`
// printing them with what they reach, under a trap that fails the run on any socket or DNS
// lookup. No test here contacts a public endpoint: they are only parsed.
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chooseDefaultLinks, DEFAULT_LINKS } from '../../src/links/defaults.js';
import { validateLinkOptions } from '../../src/links/registry.js';
import { parseConfig, withDefaultLinks } from '../../src/cli/config.js';
import { checkLinks } from '../../src/cli/link-check.js';
import { NETWORK_NAMES } from '../../src/chain/networks.js';
import { REPO_ROOT } from '../harness/data.js';

const CLI = resolve(REPO_ROOT, 'dist/src/cli/main.cjs');
const dir = mkdtempSync(join(tmpdir(), 'altnet-defaults-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Loaded with --import before the CLI: any outgoing connection or name lookup ends the process
// with status 99 and says what was attempted.
const trap = join(dir, 'no-network.mjs');
writeFileSync(
  trap,
  `import net from 'node:net'; import dns from 'node:dns';
const deny = (what) => () => { process.stderr.write('NETWORK-CONTACT ' + what + '\\n'); process.exit(99); };
net.Socket.prototype.connect = deny('connect');
for (const f of ['lookup', 'resolve', 'resolve4', 'resolve6', 'resolveAny']) { dns[f] = deny('dns.' + f); dns.promises[f] = deny('dns.promises.' + f); }
dns.Resolver.prototype.resolve = deny('Resolver.resolve');
`,
);
const run = (args: string[]) =>
  spawnSync(process.execPath, ['--import', pathToFileURL(trap).href, ...args], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, ALTNET_CONF: '' },
  });

describe('default sources: form', () => {
  it('every network has its row; public networks two Esplora servers at most one operator apart, regtest none', () => {
    expect(Object.keys(DEFAULT_LINKS).sort()).toEqual([...NETWORK_NAMES].sort());
    expect(DEFAULT_LINKS.regtest).toEqual([]);
    expect(DEFAULT_LINKS.main.filter((d) => d.type === 'esplora')).toHaveLength(2);
    expect(DEFAULT_LINKS.signet.filter((d) => d.type === 'esplora')).toHaveLength(2);
    expect(DEFAULT_LINKS.testnet4.filter((d) => d.type === 'esplora').length).toBeGreaterThanOrEqual(1);
    expect(DEFAULT_LINKS.main.filter((d) => d.type === 'dns').map((d) => d.options.domain)).toEqual(['bitcoinheaders.net']);
    // Random P2P peers come first on every public network (the default set starts with them).
    for (const n of ['main', 'testnet4', 'signet'] as const) expect(DEFAULT_LINKS[n][0], n).toMatchObject({ name: 'peers', type: 'peers' });
  });

  for (const network of NETWORK_NAMES) {
    for (const d of DEFAULT_LINKS[network]) {
      it(`${network} ${d.name}: URLs parse (https in clear, http to a v3 .onion under a proxy), the link table accepts both, it says what it reaches and learns`, () => {
        expect(validateLinkOptions(d.name, d.options)).toEqual([]);
        expect(d.reaches.length).toBeGreaterThan(10);
        expect(d.learns).toMatch(/IP address|resolver/);
        if (d.type === 'esplora') {
          const url = new URL(d.options.url);
          expect(url.protocol).toBe('https:');
          expect(url.pathname).toMatch(/\/api$/);
          const onion = new URL(d.viaProxy!.url);
          expect(onion.protocol).toBe('http:'); // onion services authenticate themselves by their name
          expect(onion.hostname).toMatch(/^[a-z2-7]{56}\.onion$/);
          expect(onion.pathname).toBe(url.pathname);
          expect(validateLinkOptions(d.name, d.viaProxy!)).toEqual([]);
        } else if (d.type === 'peers') {
          // Through a proxy as it is: the link itself resolves nothing and asks seeds through it.
          expect(d.viaProxy).toEqual({ type: 'peers' });
          expect(d.reachesViaProxy).toMatch(/through the proxy/);
        } else {
          expect(d.viaProxy).toBeUndefined();
          expect(d.proxyRefused).toMatch(/leak/);
        }
      });
    }
  }
});

describe('default sources: when they are used', () => {
  const cfg = (text: string, flags: string[] = []) => withDefaultLinks(parseConfig(text, 'altnet.conf', { flags, env: { HOME: dir } }));

  it('no links on mainnet: random peers first, then the other three defaults, named in the note', () => {
    const c = cfg('network=main\n');
    expect(c.linkConfigs.map((l) => [l.name, l.type])).toEqual([
      ['peers', 'peers'],
      ['blockstream', 'esplora'],
      ['mempool', 'esplora'],
      ['dnsheaders', 'dns'],
    ]);
    expect(c.links.mempool).toEqual({ type: 'esplora', url: 'https://mempool.space/api' });
    expect(c.defaultsNote).toMatch(
      /^no links configured: using the built-in default sources for main: peers, blockstream, mempool, dnsheaders/,
    );
    expect(c.links.peers).toEqual({ type: 'peers' });
  });

  it('a link configured: no defaults; defaults=1 adds them, a name the user took stays theirs', () => {
    const own = 'link.mempool.type=esplora\nlink.mempool.url=http://127.0.0.1:3000/api\n';
    expect(cfg(own).linkConfigs.map((l) => l.name)).toEqual(['mempool']);
    expect(cfg(own).defaultsNote).toBeUndefined();
    const c = cfg(own + 'defaults=1\n');
    expect(c.linkConfigs.map((l) => l.name)).toEqual(['mempool', 'peers', 'blockstream', 'dnsheaders']);
    expect(c.links.mempool.url).toBe('http://127.0.0.1:3000/api');
    expect(c.defaultsNote).toContain('mempool: a configured link is already named mempool');
  });

  it('defaults=1 leaves out a default whose server one of your links already asks (no double load, no second opinion)', () => {
    const own = 'link.mine.type=esplora\nlink.mine.url=https://Mempool.space/api\ndefaults=1\n';
    const c = cfg(own);
    expect(c.linkConfigs.map((l) => l.name)).toEqual(['mine', 'peers', 'blockstream', 'dnsheaders']);
    expect(c.defaultsNote).toContain('mempool: the configured link mine already asks mempool.space');
  });

  it('defaults=0 with no links: none, and the note says nothing protects', () => {
    const c = cfg('', ['-defaults=0']);
    expect(c.linkConfigs).toEqual([]);
    expect(c.defaultsNote).toContain('defaults=0: altnet runs no links');
  });

  it('a proxy: random peers through it, onion endpoints, DNS left out saying it would leak', () => {
    const c = cfg('proxy=127.0.0.1:9050\n');
    expect(c.linkConfigs.map((l) => l.name)).toEqual(['peers', 'blockstream', 'mempool']);
    expect(c.links.peers).toEqual({ type: 'peers' });
    expect(c.links.blockstream.url).toMatch(/^http:\/\/[a-z2-7]{56}\.onion\/api$/);
    expect(c.defaultsNote).toMatch(/dnsheaders: .*leak/);
    const choice = chooseDefaultLinks('main', { proxy: true, taken: new Set(), reason: 'no-links' });
    expect(choice.links[0].about.reaches).toMatch(/through the proxy.*no name is looked up here/);
    // What a peer learns through Tor: not your IP address, and no resolver involved.
    expect(choice.links[0].about.learns).toMatch(/behind Tor/);
    expect(choice.links[0].about.learns).not.toMatch(/your IP address|resolver/);
    expect(choice.links[1].about.reaches).toMatch(/onion service .* through the proxy/);
  });

  it('regtest: none, with a line saying so', () => {
    const c = cfg('network=regtest\n');
    expect(c.linkConfigs).toEqual([]);
    expect(c.defaultsNote).toMatch(/network regtest has no public default sources/);
  });
});

describe('altnet run --check lists the defaults without contacting anything', () => {
  it('the trap itself fails a process that connects (so the checks below can fail)', () => {
    const r = run(['-e', "require('node:net').connect(9, '127.0.0.1')"]);
    expect(r.status).toBe(99);
    expect(r.stderr).toContain('NETWORK-CONTACT connect');
  });

  it('-network=main -conf=none: the default links, what each reaches and learns; no socket, no lookup', () => {
    const r = run([CLI, 'run', '--check', '-network=main', '-conf=none', `-datadir=${join(dir, 'data')}`]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stderr).not.toContain('NETWORK-CONTACT');
    expect(r.stdout).toContain('defaults: no links configured: using the built-in default sources for main');
    expect(r.stdout).toMatch(/blockstream +esplora +duplex url=https:\/\/blockstream\.info\/api +\(built-in defaults\)/);
    expect(r.stdout).toMatch(/mempool +esplora +duplex url=https:\/\/mempool\.space\/api/);
    expect(r.stdout).toMatch(/dnsheaders +dns +rx +domain=bitcoinheaders\.net/);
    expect(r.stdout).toContain("reaches: Blockstream's public Esplora server (blockstream.info)");
    expect(r.stdout).toContain("reaches: bitcoinheaders.net's DNS zone");
    // Random peers: the address book in the datadir, the DNS seeds named, what a peer learns.
    expect(r.stdout).toContain(`peers        peers     duplex book=${join(dir, 'data', 'peers-main-peers.json')}  (built-in defaults)`);
    expect(r.stdout).toMatch(/reaches: 3 random Bitcoin nodes at a time .*seed\.bitcoin\.sipa\.be/);
    expect(r.stdout).toMatch(/learns: +each peer learns your IP address, that you run a Bitcoin node/);
    expect(r.stdout).toContain('ok: the daemon would start with 4 links.');
    expect(existsSync(join(dir, 'data'))).toBe(false);

    const j = run([CLI, 'run', '--check', '--json', '-network=main', '-conf=none']);
    expect(j.status, j.stderr).toBe(0);
    const out = JSON.parse(j.stdout);
    expect(out.links.map((l: { name: string; source: string }) => `${l.name}:${l.source}`)).toEqual([
      'peers:built-in defaults',
      'blockstream:built-in defaults',
      'mempool:built-in defaults',
      'dnsheaders:built-in defaults',
    ]);
    expect(out.links[0].learns).toContain('IP address');
    expect(out.links[0].reaches).toContain('random Bitcoin nodes');
  });

  it('regtest: no links, and it says why', () => {
    const r = run([CLI, 'run', '--check', '-network=regtest', '-conf=none']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('network regtest has no public default sources');
    expect(r.stdout).toContain('links: none configured');
  });
});

describe('proxy= and onlynet= at start-up', () => {
  const deps = { profiles: () => [], exists: () => false };
  const check = (text: string) => checkLinks(withDefaultLinks(parseConfig(text, 'altnet.conf', { env: { HOME: dir } })), 'gateway', deps);

  it('proxy= is handed to every internet link that takes it (unless it says proxy=off); a dns link is refused, saying it would leak', () => {
    const r = check(
      [
        'proxy=127.0.0.1:9050',
        'link.p.type=p2p',
        'link.p.peer=203.0.113.5:8333',
        'link.e.type=esplora',
        'link.e.url=http://127.0.0.1:3000/api',
        'link.e.proxy=off',
        'link.h.type=dns',
        'link.h.domain=bitcoinheaders.net',
      ].join('\n'),
    );
    expect(r.links.find((l) => l.name === 'p')!.options.proxy).toBe('127.0.0.1:9050');
    expect(r.links.find((l) => l.name === 'e')!.options.proxy).toBe('off');
    expect(r.errors.map((e) => [e.code, e.line])).toEqual([['link-leaks-around-proxy', 7]]);
    expect(r.errors[0].message).toMatch(/link\.h \(type=dns\) cannot run with proxy=127\.0\.0\.1:9050: .*resolvers directly/);
  });

  it('onlynet=onion: the onion defaults pass; a clearnet host, a direct link or no proxy is refused', () => {
    const ok = check('proxy=127.0.0.1:9050\nonlynet=onion\n');
    expect(ok.errors).toEqual([]);
    // Random peers get onlynet=onion and the proxy as their own options.
    expect(ok.links.find((l) => l.name === 'peers')!.options).toMatchObject({ proxy: '127.0.0.1:9050', onlynet: 'onion' });
    expect(check('onlynet=onion\nlink.r.type=peers\n').errors.map((e) => e.code)).toEqual(['onlynet-needs-proxy']);
    expect(check('proxy=127.0.0.1:9050\nonlynet=onion\nlink.r.type=peers\nlink.r.proxy=off\n').errors.map((e) => e.code)).toEqual([
      'onlynet-direct',
    ]);
    const r = check('proxy=127.0.0.1:9050\nonlynet=onion\nlink.l.type=electrum\nlink.l.server=electrum.example.org:50002\n');
    expect(r.errors.map((e) => e.code)).toEqual(['onlynet-not-onion']);
    expect(
      check(
        'proxy=127.0.0.1:9050\nonlynet=onion\nlink.l.type=p2p\nlink.l.peer=abcdefghijklmnopabcdefghijklmnopabcdefghijklmnopabcdefgh.onion:8333\nlink.l.proxy=off\n',
      ).errors.map((e) => e.code),
    ).toEqual(['onlynet-direct']);
    expect(check('onlynet=onion\nlink.l.type=p2p\nlink.l.peer=x.onion:8333\n').errors.map((e) => e.code)).toEqual(['onlynet-needs-proxy']);
  });
});
