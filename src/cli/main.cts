#!/usr/bin/env node
// The `altnet` entry (package.json's bin, the launcher scripts/install.sh writes, `npm run
// demo`): runs the CLI (cli.ts) from its esbuild bundle, dist/src/cli/cli.bundle/cli.cjs
// (scripts/bundle.mjs, part of `npm run build`; CommonJS, so it is require()d), when that is at
// least as new as the compiled cli.js, else cli.js itself; ALTNET_MAIN_BUNDLE=0 forces cli.js.
// A bundle loads a handful of files where cli.js loads ~100 ESM modules (each costs memory of
// its own) and leaves out what the loaded code never uses. Measured (npm run --silent bench --
// memory, issue 18, the daemon of a 4-link gateway): `altnet run`'s main process 13.4-14.0 MB
// anonymous memory (14.8-15.6 MB PSS) from the CommonJS bundle, 13.9-14.5 from the same bundle
// as ESM, 16.7-17.6 from cli.js (bare node: 6.2).
// The entry itself is CommonJS (this .cts compiles to main.cjs), as is the one module it loads
// (util/bundle-entry.cts): an ES module entry starts Node's ESM loader in the daemon's main
// process for good (issue 18). Measured: a bare Node idling in an .mjs file 6.68-6.72 MB of
// anonymous memory, in a .cjs file 6.24; the memory bench's main process (npm run --silent bench
// -- memory, 4 runs alternating the ES module entry with the bundle started directly) 10.5-11.4
// -> 10.4-10.6 MB anonymous.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { freshBundleOr } from '../util/bundle-entry.cjs';

const entry = freshBundleOr(join(__dirname, 'cli.js'), join(__dirname, 'cli.bundle/cli.cjs'), process.env.ALTNET_MAIN_BUNDLE !== '0');
if (entry.endsWith('.cjs')) require(entry);
// cli.js is an ES module (a build without the bundle): import() starts the ESM loader for it.
else void import(pathToFileURL(entry).href);
