// Bundles the link driver process (dist/src/gateway/driver-host.js, after tsc) with esbuild into
// dist/src/gateway/driver-host.bundle/: one chunk for what every driver loads and one per lazily
// imported driver, so a driver process loads a handful of files instead of 45-80 ESM modules
// (each costs ~38 kB of memory by itself), without comments and indentation, as CommonJS.
// Measured (npm run --silent bench -- memory, issue 18): sim, esplora and electrum link
// processes 0.7-2 MB PSS less each than unbundled. The supervisor uses the bundle only when it
// is at least as new as driver-host.js, so a bare `npx tsc` never runs stale driver code (it
// falls back to the unbundled files). Native and optional packages stay external.
//
// Why CommonJS: Node's ESM loader keeps per-module records and runs more of its own JavaScript;
// the same bundle as .cjs chunks took an idle driver process from 10.7 to 9.6 MB of anonymous
// memory (3 processes each, same run), and npm run --silent bench -- memory (3 runs alternating
// with the ESM bundle) from ratio 1.742-1.773 to 1.697-1.702: sim 11.3-12.0 -> 10.9-11.1,
// esplora 11.0-11.1 -> 10.4-10.7, electrum 10.5-11.1 -> 10.1-10.4 MB PSS, p2p within noise. esbuild splits code only in ESM output, so the chunks are
// built as ESM and each is then turned into CommonJS; a driver's lazy import() of its chunk
// becomes a require() (an import() of a .cjs file would load the ESM loader again). import() of
// a computed path (type=module drivers) stays an import().
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = resolve(root, 'dist/src/gateway/driver-host.bundle');
rmSync(outdir, { recursive: true, force: true });
// A node_modules copied from before esbuild was added: warn and leave the drivers unbundled
// (the supervisor then runs dist/src/gateway/driver-host.js), rather than fail the build or tests.
let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  process.stderr.write('bundle: esbuild is not installed (run npm ci); the link drivers run unbundled\n');
  process.exit(0);
}
// V8 keeps each module's source text in the heap (0.2-0.55 MB per driver process, most of it
// comments and indentation). Identifiers stay, so stack traces still name functions. Measured
// (npm run --silent bench -- memory, 3 runs alternating with the unminified bundle): ratio
// 1.79-1.85 -> 1.74-1.81; the p2p link (noble curves) 12.8-15.0 -> 12.3-13.6 MB PSS.
const minify = { minifyWhitespace: true, minifySyntax: true, legalComments: 'none' };
await esbuild.build({
  entryPoints: [resolve(root, 'dist/src/gateway/driver-host.js')],
  bundle: true,
  splitting: true,
  format: 'esm',
  outExtension: { '.js': '.cjs' },
  platform: 'node',
  target: 'node20',
  outdir,
  logLevel: 'warning',
  ...minify,
  // Native addons (and the packages that load them by path) are resolved at run time from node_modules.
  external: ['serialport', '@serialport/*', '@stoprocent/*', 'cbor-extract', 'usb'],
});
const chunkImport = /\bimport\("(\.\/[\w.-]+\.cjs)"\)/g;
for (const file of readdirSync(outdir)) {
  const path = resolve(outdir, file);
  const { code } = await esbuild.transform(readFileSync(path, 'utf8'), {
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    logLevel: 'warning',
    ...minify,
    define: { 'import.meta.url': '__altnetModuleUrl' },
    banner: "const __altnetModuleUrl = require('node:url').pathToFileURL(__filename).href;",
  });
  writeFileSync(path, code.replace(chunkImport, 'Promise.resolve().then(() => require("$1"))'));
}
