// What keeps a link driver's process small (issue 18): each internet link loads only the Node
// modules its own connection needs (no socks without a proxy, no TLS or HTTP where it does not
// speak them), and the malloc environment given to small processes.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MEMORY_ENV, nodeMemoryEnv } from '../../src/util/node-memory.js';
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

  it('the IPC layer does not pull the header codec and node:crypto into every driver', () => {
    const m = loadedBy('src/gateway/ipc.js');
    expect(m.builtins).not.toContain('crypto');
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
  });
});
