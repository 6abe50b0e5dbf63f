// The project rule for emulators: they import nothing from src/. An emulator that shares the
// driver's constants or codecs cannot catch the driver's misunderstanding of the device, so each is
// written from the device's own firmware, manual or spec. This test reads every emulator source.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('.', import.meta.url).pathname;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return /\.ts$/.test(e.name) && !/\.test\.ts$/.test(e.name) ? [p] : [];
  });
}

/** Every module specifier of a static import/export or a dynamic import() in `text`. */
function importedModules(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)['"]([^'"]+)['"]/g)) found.push(m[1]);
  return found;
}

describe('emulators', () => {
  it('finds an import from src/ when there is one (the check can fail)', () => {
    // The sample import is assembled, so that this file itself imports nothing from src/ to a grep.
    const sample = ['import { KissDecoder } from', "'../../" + "src/links/kiss/kiss.js';"].join(' ');
    expect(importedModules(sample)).toEqual(['../../src/links/kiss/kiss.js']);
    expect(importedModules(`const m = await import("../../../src/util/bytes.js");`)).toEqual(['../../../src/util/bytes.js']);
  });

  it('import nothing from src/', () => {
    const files = sources(root);
    expect(files.length).toBeGreaterThan(5);
    const offenders = files.flatMap((f) =>
      importedModules(readFileSync(f, 'utf8'))
        .filter((m) => /^(\.\.\/)+src\//.test(m) || m.startsWith('/') || /(^|\/)dist\//.test(m))
        .map((m) => `${relative(root, f)}: ${m}`),
    );
    expect(offenders).toEqual([]);
  });
});
