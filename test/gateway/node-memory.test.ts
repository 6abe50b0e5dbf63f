// What keeps a link driver's process small (issue 18): each internet link loads only the Node
// modules its own connection needs (no socks without a proxy, no TLS or HTTP where it does not
// speak them), and the malloc environment given to small processes.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { driverEnv, driverNodeFlags, MEMORY_ENV, nodeMemoryEnv } from '../../src/util/node-memory.js';
import { linkTypeEntries, linkTypeEntry } from '../../src/links/registry.js';
import { REPO_ROOT } from '../harness/data.js';

/** Imports the compiled driver module in a fresh Node; returns the built-ins and CommonJS files it loaded. */
function loadedBy(distModule: string): { builtins: string[]; cjs: string[] } {
  const url = pathToFileURL(resolve(REPO_ROOT, 'dist', distModule)).href;
  const script = `
    import { createRequire } from 'node:module';
    await import(${JSON.stringify(url)});
    const cache = createRequire(import.meta.url).cache;
    console.log(JSON.stringify({
      builtins: process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13)),
      cjs: Object.keys(cache),
    }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { builtins: string[]; cjs: string[] };
}

describe('link driver modules load only what their connection needs', () => {
  it('p2p loads neither TLS, HTTP nor socks', () => {
    const m = loadedBy('src/links/p2p/p2p.js');
    expect(m.builtins).toContain('net'); // the probe sees what the driver loads
    for (const b of ['tls', '_tls_wrap', 'http', 'https', '_http_client']) expect(m.builtins).not.toContain(b);
    expect(m.cjs.filter((f) => f.includes('/node_modules/socks/'))).toEqual([]);
  });

  it('electrum and esplora load neither TLS nor socks until a link asks for them', () => {
    for (const mod of ['src/links/electrum/electrum.js', 'src/links/esplora/esplora.js']) {
      const m = loadedBy(mod);
      for (const b of ['tls', '_tls_wrap', 'https']) expect(m.builtins, mod).not.toContain(b);
      expect(
        m.cjs.filter((f) => f.includes('/node_modules/socks/')),
        mod,
      ).toEqual([]);
    }
  });
});

describe('the main process loads its optional servers only when they are on', () => {
  it('the gateway module loads no HTTP server (status page and metrics are off by default)', () => {
    const m = loadedBy('src/gateway/gateway.js');
    expect(m.builtins).toContain('child_process'); // the probe sees what the gateway loads
    for (const b of ['http', '_http_server']) expect(m.builtins).not.toContain(b);
  });
});

describe('nodeMemoryEnv', () => {
  it("adds the malloc settings and lets an operator's own tunables win", () => {
    const env = nodeMemoryEnv({ PATH: '/bin' });
    expect(env).toEqual({ PATH: '/bin', ...MEMORY_ENV });
    const own = nodeMemoryEnv({ GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=0', MALLOC_ARENA_MAX: '4' });
    // glibc reads the list left to right; a later setting of the same tunable overrides.
    expect(own.GLIBC_TUNABLES).toBe(`${MEMORY_ENV.GLIBC_TUNABLES}:glibc.malloc.trim_threshold=0`);
    expect(own.MALLOC_ARENA_MAX).toBe('4');
    expect(nodeMemoryEnv({}, '1').MALLOC_ARENA_MAX).toBe('1'); // a driver's
    expect(nodeMemoryEnv({ MALLOC_ARENA_MAX: '4' }, '1').MALLOC_ARENA_MAX).toBe('4');
  });
});

describe('driverEnv', () => {
  it('leaves NODE_EXTRA_CA_CERTS out for links that speak no TLS, keeps it for those that may', () => {
    const env = { PATH: '/bin', NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt' };
    expect(driverEnv(env, false).NODE_EXTRA_CA_CERTS).toBeUndefined();
    expect(driverEnv(env, true).NODE_EXTRA_CA_CERTS).toBe(env.NODE_EXTRA_CA_CERTS);
    expect(driverEnv(env, false)).toMatchObject({ PATH: '/bin', MALLOC_ARENA_MAX: '1' });
    expect(env.NODE_EXTRA_CA_CERTS).toBeDefined(); // the caller's environment is not touched
  });

  it("runs with the driver's one malloc arena, not the main process's count it inherits", () => {
    // The supervisor builds a driver's environment from the main process's (MEMORY_ENV's 2).
    expect(driverEnv(nodeMemoryEnv({ PATH: '/bin' }), false).MALLOC_ARENA_MAX).toBe('1');
    expect(driverEnv({ MALLOC_ARENA_MAX: '4' }, false).MALLOC_ARENA_MAX).toBe('4'); // an operator's
  });

  it('the registry says which links may speak TLS', () => {
    const tls = (type: string, o: Record<string, string>) => linkTypeEntry(type)!.speaksTls?.(o) ?? true;
    expect(tls('esplora', { url: 'https://esplora.example.org/api' })).toBe(true);
    expect(tls('esplora', { url: 'HTTP://127.0.0.1:3000/api' })).toBe(false);
    expect(tls('electrum', { server: 'e.example.org:50002', tls: '1' })).toBe(true);
    expect(tls('electrum', { server: 'e.example.org:50002', tls: 'yes' })).toBe(true);
    expect(tls('electrum', { server: 'e.example.org:50001', tls: 'off' })).toBe(false);
    expect(tls('electrum', { server: 'e.example.org:50001' })).toBe(false);
    for (const type of ['p2p', 'peers', 'dns', 'sim', 'lora', 'kiss', 'ble']) expect(tls(type, {}), type).toBe(false);
    expect(tls('module', { path: '/x.mjs' })).toBe(true); // unknown code: keep what the operator set
  });
});

describe('driver V8 flags by link family', () => {
  it('internet sources run without a JIT, radios and modules keep it', () => {
    for (const e of linkTypeEntries()) {
      expect(driverNodeFlags(e.family).includes('--jitless'), e.type).toBe(e.family === 'source');
      expect(driverNodeFlags(e.family), e.type).toContain('--max-semi-space-size=1');
    }
    expect(driverNodeFlags(undefined)).not.toContain('--jitless');
  });

  it('the source drivers load, hash headers and do a BIP324 handshake under those flags (no WebAssembly, no JIT)', () => {
    const dist = (m: string) => JSON.stringify(pathToFileURL(resolve(REPO_ROOT, 'dist/src', m)).href);
    const sources = linkTypeEntries().filter((e) => e.family === 'source');
    expect(sources.map((e) => e.type)).toEqual(expect.arrayContaining(['p2p', 'esplora', 'electrum']));
    const script = `
      for (const m of [${['p2p/p2p', 'peers/peers', 'esplora/esplora', 'electrum/electrum', 'dns/dns'].map((m) => dist(`links/${m}.js`)).join(', ')}]) await import(m);
      const { headerHash } = await import(${dist('chain/header.js')});
      const { NETWORKS } = await import(${dist('chain/networks.js')});
      const { V2Session } = await import(${dist('node/v2/session.js')});
      const a = new V2Session({ magic: NETWORKS.regtest.magic, role: 'initiator' });
      const b = new V2Session({ magic: NETWORKS.regtest.magic, role: 'responder' });
      b.start();
      const r1 = b.receive(a.start());
      b.receive(Buffer.concat(a.receive(Buffer.concat(r1.send)).send));
      const got = b.receive(a.encodeMessage('ping', new Uint8Array(8))).messages[0].command;
      console.log(JSON.stringify({ jitless: process.execArgv.includes('--jitless'), wasm: typeof WebAssembly, hash: Buffer.from(headerHash(NETWORKS.main.genesisHeader)).reverse().toString('hex'), states: [a.state, b.state], got }));`;
    const r = spawnSync(process.execPath, [...driverNodeFlags('source'), '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe(''); // no V8 warning about the flags in a driver's stderr tail
    expect(JSON.parse(r.stdout)).toEqual({
      jitless: true,
      wasm: 'undefined',
      hash: '000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f',
      states: ['ready', 'ready'],
      got: 'ping',
    });
  });
});
