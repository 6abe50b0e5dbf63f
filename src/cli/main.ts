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
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freshBundleOr } from '../util/bundle-entry.js';

const at = (rel: string) => fileURLToPath(new URL(rel, import.meta.url));
const entry = freshBundleOr(at('./cli.js'), at('./cli.bundle/cli.cjs'), process.env.ALTNET_MAIN_BUNDLE !== '0');
if (entry.endsWith('.cjs')) createRequire(import.meta.url)(entry);
else await import(pathToFileURL(entry).href);
