import { describe, expect, it } from 'vitest';
import { NETWORK_NAMES, NETWORKS } from '../../src/chain/networks.js';
import { WARMUP_HEADERS, warmUpHeaderValidation, warmUpHeaderValidationOnce } from '../../src/chain/warmup.js';

describe('warmUpHeaderValidation', () => {
  it.each(NETWORK_NAMES)('validates a full period and a retarget of synthetic %s headers under that network’s rules', (name) => {
    const before = { ...NETWORKS[name] };
    const r = warmUpHeaderValidation(NETWORKS[name], 1_800_000_000);
    expect(r.accepted).toBe(WARMUP_HEADERS);
    expect(WARMUP_HEADERS).toBeGreaterThan(2016);
    // The network's own parameters are untouched (the warm-up uses a copy with an easy pow limit).
    expect(NETWORKS[name]).toEqual(before);
  });
});

describe('warmUpHeaderValidationOnce', () => {
  it('warms up once per process and network (what the gateway calls at start-up)', () => {
    const first = warmUpHeaderValidationOnce(NETWORKS.signet, 1_800_000_000);
    expect(first?.accepted).toBe(WARMUP_HEADERS);
    expect(warmUpHeaderValidationOnce(NETWORKS.signet, 1_800_000_000)).toBeUndefined();
  });
});
