// One place for SOCKS5 dialling: every outbound TCP connection that may go through a proxy (the
// internet sources and the BIP324 proxy's upstream) is opened by src/links/source/dial.ts, the
// only module that imports the `socks` package. This test reads every source file under src/.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const repo = new URL('../../', import.meta.url).pathname;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

const importsSocks = (text: string): boolean => /\bfrom\s*['"]socks['"]|\bimport\s*\(\s*['"]socks['"]/.test(text);

describe('SOCKS5 dialling', () => {
  it('recognises an import of the socks package (the check can fail)', () => {
    expect(importsSocks(`import { SocksClient } from 'socks';`)).toBe(true);
    expect(importsSocks(`const { SocksClient } = await import("socks");`)).toBe(true);
    expect(importsSocks(`import { x } from './socks5.js';`)).toBe(false);
  });

  it('is done only by src/links/source/dial.ts', () => {
    const users = sources(join(repo, 'src'))
      .filter((f) => importsSocks(readFileSync(f, 'utf8')))
      .map((f) => relative(repo, f));
    expect(users).toEqual(['src/links/source/dial.ts']);
  });
});
