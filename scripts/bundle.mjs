// Bundles altnet's two kinds of process with esbuild, after tsc: the link driver process
// (dist/src/gateway/driver-host.js into dist/src/gateway/driver-host.bundle/driver-host.cjs) and
// the CLI, whose `altnet run` is the daemon's main process (dist/src/cli/cli.js into
// dist/src/cli/cli.bundle/cli.cjs, which the entry dist/src/cli/main.cjs runs). Each gets one chunk
// for what every run loads and one per lazily imported part (a driver, a command), so a process
// loads a handful of files instead of 45-100 ESM modules (each costs ~38 kB of memory by itself),
// without comments and indentation, as CommonJS, and tree shaking leaves out what is never
// called. Measured (npm run --silent bench -- memory, issue 18): sim, esplora and electrum link
// processes 0.7-2 MB PSS less each than unbundled; the main process: see src/cli/main.cts. A
// bundle runs only when it is at least as new as its compiled entry (src/util/bundle-entry.cts), so
// a bare `npx tsc` never runs stale code (it falls back to the unbundled files). Native and
// optional packages stay external.
//
// Why CommonJS: Node's ESM loader keeps per-module records and runs more of its own JavaScript;
// the same bundle as .cjs chunks took an idle driver process from 10.7 to 9.6 MB of anonymous
// memory (3 processes each, same run), and npm run --silent bench -- memory (3 runs alternating
// with the ESM bundle) from ratio 1.742-1.773 to 1.697-1.702: sim 11.3-12.0 -> 10.9-11.1,
// esplora 11.0-11.1 -> 10.4-10.7, electrum 10.5-11.1 -> 10.1-10.4 MB PSS, p2p within noise. esbuild splits code only in ESM output, so the chunks are
// built as ESM and each is then turned into CommonJS; a lazy import() of a chunk becomes a
// require() (an import() of a .cjs file would load the ESM loader again). import() of a computed
// path (type=module drivers) stays an import().
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BUNDLES = [
  { entry: 'dist/src/gateway/driver-host.js', outdir: 'dist/src/gateway/driver-host.bundle' },
  { entry: 'dist/src/cli/cli.js', outdir: 'dist/src/cli/cli.bundle', driversUnbundled: true },
];
for (const b of BUNDLES) rmSync(resolve(root, b.outdir), { recursive: true, force: true });
// A node_modules copied from before esbuild was added: warn and leave the processes unbundled
// (driver-host.js and cli.js then run as tsc wrote them), rather than fail the build or tests.
let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  process.stderr.write('bundle: esbuild is not installed (run npm ci); the daemon and its link drivers run unbundled\n');
  process.exit(0);
}

/**
 * The link registry's driver imports (links/registry.ts `load`), left to the unbundled files tsc
 * wrote. Only the driver process creates links (driver-host.ts createLink); in the CLI's bundle
 * each of those imports would be one more entry point, and esbuild gives every set of entry
 * points sharing code a chunk of its own: the daemon's main process loaded 38 files instead of
 * 22, each ESM file costing ~40 kB of memory by itself (measured: 40 one-line modules, +1.6 MB).
 */
const driversUnbundled = (outdir) => ({
  name: 'drivers-unbundled',
  setup(b) {
    b.onResolve({ filter: /^\./ }, (a) => {
      if (a.kind !== 'dynamic-import' || !a.importer.endsWith('/links/registry.js')) return undefined;
      return { path: './' + relative(outdir, resolve(dirname(a.importer), a.path)), external: true };
    });
  },
});

// V8 keeps each module's source text in the heap (0.2-0.55 MB per driver process, most of it
// comments and indentation). Identifiers stay, so stack traces still name functions. Measured
// (npm run --silent bench -- memory, 3 runs alternating with the unminified bundle): ratio
// 1.79-1.85 -> 1.74-1.81; the p2p link (noble curves) 12.8-15.0 -> 12.3-13.6 MB PSS.
const minify = { minifyWhitespace: true, minifySyntax: true, legalComments: 'none' };
const chunkImport = /\bimport\("(\.\/[\w.-]+\.cjs)"\)/g;
for (const b of BUNDLES) {
  const outdir = resolve(root, b.outdir);
  await esbuild.build({
    entryPoints: [resolve(root, b.entry)],
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
    plugins: b.driversUnbundled ? [driversUnbundled(outdir)] : [],
  });
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
}
