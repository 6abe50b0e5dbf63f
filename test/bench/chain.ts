// Header validation rate over the real shared data (DESIGN.md section 4 target: >= 500k/s).
import { readFileSync } from 'node:fs';
import { checkProofOfWork } from '../../src/chain/header.js';
import { NETWORKS } from '../../src/chain/networks.js';
import { SHARED_DATA } from '../harness/data.js';

export async function bench(): Promise<Record<string, unknown>> {
  const file = new Uint8Array(readFileSync(SHARED_DATA.recentHeaders));
  const n = file.length / 80;
  const t0 = performance.now();
  let ok = 0;
  for (let i = 0; i < n; i++) if (checkProofOfWork(file.subarray(i * 80, i * 80 + 80), NETWORKS.main.powLimit)) ok++;
  const ms = performance.now() - t0;
  return { headers: n, powValid: ok, powOnlyMs: +ms.toFixed(2), powOnlyHeadersPerSec: Math.round((n / ms) * 1000) };
}
