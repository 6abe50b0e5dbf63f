// Every counter altnet writes has HELP text in the Prometheus output. The counter names are read
// from the source: every `.inc('name')` / `.set('name')` (and template names, whose `${...}` part
// is a value: a link, a code, a kind) in src/, with the prefix its file's counters carry
// (SCOPES: a link driver's counters come out as `link.<name>.…`, the chain's as `chain.…`).
// Each name is rendered by renderPrometheus exactly as /metrics would, and its family's HELP
// must not be the "no description yet" fallback. A new file that counts needs a line in SCOPES.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderPrometheus } from '../../src/gateway/metrics.js';

const repo = new URL('../../', import.meta.url).pathname;

/** The prefix(es) each counting file's names get from the Counters it is handed (`counters.scoped(...)`). */
const SCOPES: Record<string, string[]> = {
  'src/blocks/store.ts': [''],
  'src/chain/chain.ts': ['chain.'],
  'src/chain/store.ts': ['chain.'],
  'src/codec/fragment.ts': ['link.l0.'],
  'src/gateway/alerts.ts': ['alerts.'],
  'src/gateway/blockfetch.ts': [''],
  'src/gateway/driver-host.ts': [''],
  'src/gateway/gateway.ts': [''],
  'src/gateway/hotplug.ts': [''],
  'src/gateway/outbox.ts': ['outbox.'],
  'src/gateway/rescue.ts': [''],
  'src/gateway/router.ts': [''],
  'src/gateway/supervisor.ts': ['link.l0.'],
  'src/gateway/tx-acks.ts': [''],
  'src/node/peer.ts': [''],
  'src/node/server.ts': [''],
  'src/node/v2/session.ts': ['node.v2.', 'link.l0.v2.', 'bip324proxy.v2.'],
  'src/proxy/proxy.ts': ['bip324proxy.'],
  'src/watchdog/watchdog.ts': ['watchdog.'],
};
/** Link drivers: their counters reach /metrics as `link.<name>.…`. */
const LINK_DRIVERS = /^src\/links\//;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Counter names a file writes; `${...}` becomes `x` (a value, as the code fills it in). */
export function counterNames(text: string): string[] {
  const names = new Set<string>();
  for (const m of text.matchAll(/\bcounters\??\.(?:inc|set)\(\s*(?:'([^']+)'|`((?:[^`$]|\$\{(?:[^{}]|\{[^}]*\})*\})+)`)/g)) {
    names.add(m[1] ?? m[2].replace(/\$\{(?:[^{}]|\{[^}]*\})*\}/g, 'x'));
  }
  return [...names];
}

/** The HELP line renderPrometheus gives the family of store name `name`. */
function helpOf(name: string): string {
  const text = renderPrometheus({ [name]: 1 });
  return /^# HELP \S+ (.*)$/m.exec(text)![1];
}

const FALLBACK = /no description yet/;

describe('Prometheus HELP', () => {
  it('finds counter names, template ones too (the check can fail)', () => {
    expect(counterNames(`this.deps.counters.inc('txack.sent'); c.counters?.inc(\`link.\${f.link}.block_timeouts\`, 2);`)).toEqual([
      'txack.sent',
      'link.x.block_timeouts',
    ]);
    expect(helpOf('no.such.counter')).toMatch(FALLBACK);
  });

  it('is written for every counter altnet writes', () => {
    const missing: string[] = [];
    const unscoped: string[] = [];
    let seen = 0;
    for (const file of sources(join(repo, 'src'))) {
      const rel = relative(repo, file);
      const names = counterNames(readFileSync(file, 'utf8'));
      if (!names.length) continue;
      const scopes = SCOPES[rel] ?? (LINK_DRIVERS.test(rel) ? ['link.l0.'] : undefined);
      if (!scopes) {
        unscoped.push(rel);
        continue;
      }
      for (const scope of scopes) {
        for (const n of names) {
          seen++;
          if (FALLBACK.test(helpOf(scope + n))) missing.push(`${scope}${n} (${rel})`);
        }
      }
    }
    expect(unscoped, 'files that count but have no line in SCOPES').toEqual([]);
    expect(seen).toBeGreaterThan(100);
    expect(missing, 'counters without HELP: add them to METRIC_HELP (src/gateway/metrics.ts)').toEqual([]);
  });
});
