// Bundles the link driver process (dist/src/gateway/driver-host.js, after tsc) with esbuild into
// dist/src/gateway/driver-host.bundle/: one chunk for what every driver loads and one per lazily
// imported driver, so a driver process loads a handful of files instead of 45-80 ESM modules
// (each costs ~38 kB of memory by itself), without comments and indentation. Measured (npm run --silent bench -- memory, issue 18):
// sim, esplora and electrum link processes 0.7-2 MB PSS less each. The supervisor uses the
// bundle only when it is at least as new as driver-host.js, so a bare `npx tsc` never runs stale
// driver code (it falls back to the unbundled files). Native and optional packages stay external.
import { rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = resolve(root, 'dist/src/gateway/driver-host.bundle');
rmSync(outdir, { recursive: true, force: true });
// A node_modules copied from before esbuild was added: warn and leave the drivers unbundled
// (the supervisor then runs dist/src/gateway/driver-host.js), rather than fail the build or tests.
let build;
try {
  ({ build } = await import('esbuild'));
} catch {
  process.stderr.write('bundle: esbuild is not installed (run npm ci); the link drivers run unbundled\n');
  process.exit(0);
}
await build({
  entryPoints: [resolve(root, 'dist/src/gateway/driver-host.js')],
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outdir,
  logLevel: 'warning',
  // V8 keeps each module's source text in the heap (0.2-0.55 MB per driver process, most of it
  // comments and indentation). Identifiers stay, so stack traces still name functions. Measured
  // (npm run --silent bench -- memory, 3 runs alternating with the unminified bundle): ratio
  // 1.79-1.85 -> 1.74-1.81; the p2p link (noble curves) 12.8-15.0 -> 12.3-13.6 MB PSS.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none',
  // Native addons (and the packages that load them by path) are resolved at run time from node_modules.
  external: ['serialport', '@serialport/*', '@stoprocent/*', 'cbor-extract', 'usb'],
  // CommonJS packages inside an ESM bundle call require(): give them Node's.
  banner: {
    js: "import { createRequire as __altnetCreateRequire } from 'node:module'; const require = __altnetCreateRequire(import.meta.url);",
  },
});
