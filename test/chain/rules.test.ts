import { describe, expect, it } from 'vitest';
import { bitsToTarget, serializeHeader, targetToBits } from '../../src/chain/header.js';
import { NETWORKS } from '../../src/chain/networks.js';
import {
  checkContext,
  hashMeetsTarget,
  medianTimePast,
  requiredBits,
  retargetBits,
  validateHeader,
  type ParentContext,
} from '../../src/chain/rules.js';
import { HeaderChain } from '../../src/chain/chain.js';
import { headerHash80 } from '../../src/chain/sha256d.js';
import { Counters } from '../../src/util/counters.js';
import { ConfigError } from '../../src/util/errors.js';
import { silentLogger } from '../../src/util/log.js';
import { SHARED_DATA } from '../harness/data.js';
import { newChain, readHeaders } from './helpers.js';

const TIMESPAN = 14 * 24 * 3600;

/** A parent at `height` whose ancestors' times and bits come from functions of height. */
function parentAt(height: number, time: (h: number) => number, bits: (h: number) => number): ParentContext {
  return { height, time: time(height), bits: bits(height), timeAt: time, bitsAt: bits };
}

function header(fields: { version?: number; time: number; bits: number }): Uint8Array {
  return serializeHeader({
    version: fields.version ?? 0x20000000,
    prevHash: new Uint8Array(32),
    merkleRoot: new Uint8Array(32),
    time: fields.time,
    bits: fields.bits,
    nonce: 0,
  });
}

describe('difficulty rules', () => {
  const main = NETWORKS.main;
  const BITS = 0x1b0404cb;
  const target = bitsToTarget(BITS)!;

  it('mainnet keeps the parent nBits off a retarget height', () => {
    const p = parentAt(
      100,
      (h) => 1_300_000_000 + h * 600,
      () => BITS,
    );
    expect(requiredBits(main, p, 1_300_000_000 + 101 * 600)).toBe(BITS);
  });

  it('mainnet retargets at height % 2016 == 0 from the period span, clamped to 4x either way', () => {
    const at = (span: number) =>
      requiredBits(
        main,
        parentAt(
          4031,
          (h) => (h === 2016 ? 1_300_000_000 : 1_300_000_000 + span),
          () => BITS,
        ),
        0,
      );
    expect(at(TIMESPAN)).toBe(targetToBits((target * BigInt(TIMESPAN)) / BigInt(TIMESPAN)));
    expect(at(TIMESPAN / 2)).toBe(targetToBits(target / 2n));
    expect(at(TIMESPAN * 10)).toBe(targetToBits(target * 4n));
    expect(at(TIMESPAN / 10)).toBe(targetToBits(target / 4n));
    expect(at(-5000)).toBe(targetToBits(target / 4n));
    // Never easier than the pow limit.
    expect(retargetBits(main, 0x1d00ffff, 1_300_000_000 + TIMESPAN * 4, 1_300_000_000, 0x1d00ffff)).toBe(0x1d00ffff);
  });

  it('BIP94 retargets from the first block of the period, not a min-difficulty last block', () => {
    const t4 = NETWORKS.testnet4;
    const p = parentAt(
      4031,
      (h) => (h === 2016 ? 1_700_000_000 : 1_700_000_000 + TIMESPAN),
      (h) => (h === 4031 ? 0x1d00ffff : BITS),
    );
    expect(requiredBits(t4, p, 0)).toBe(BITS);
    // Without BIP94 (testnet3 style) the last block's nBits are the base.
    expect(requiredBits({ ...t4, enforceBip94: false }, p, 0)).toBe(0x1d00ffff);
  });

  it('testnet: 20 minutes after the parent allows the pow limit; otherwise walks back over min-difficulty blocks', () => {
    const t4 = NETWORKS.testnet4;
    const bits = (h: number) => (h >= 2020 ? 0x1d00ffff : BITS);
    const p = parentAt(2025, (h) => 1_700_000_000 + h * 600, bits);
    expect(requiredBits(t4, p, p.time + 1201)).toBe(0x1d00ffff);
    expect(requiredBits(t4, p, p.time + 1200)).toBe(BITS);
    // The walk-back stops at a period's first block even when it is at the pow limit.
    const allMin = parentAt(
      2025,
      (h) => 1_700_000_000 + h * 600,
      () => 0x1d00ffff,
    );
    expect(requiredBits(t4, allMin, allMin.time + 60)).toBe(0x1d00ffff);
  });

  it('regtest never retargets', () => {
    const r = NETWORKS.regtest;
    const p = parentAt(
      2015,
      (h) => 1_296_688_602 + h,
      () => 0x207fffff,
    );
    expect(requiredBits(r, p, p.time + 1)).toBe(0x207fffff);
  });
});

describe('time and version rules', () => {
  const main = NETWORKS.main;
  const BITS = 0x1b0404cb;

  it('computes the median of the last 11, or of fewer near genesis', () => {
    const times = [5, 1, 9, 3, 7, 2, 8, 4, 6, 10, 11, 0];
    expect(
      medianTimePast(
        parentAt(
          11,
          (h) => times[h],
          () => 0,
        ),
      ),
    ).toBe(6); // heights 1..11
    expect(
      medianTimePast(
        parentAt(
          2,
          (h) => times[h],
          () => 0,
        ),
      ),
    ).toBe(5); // 5, 1, 9
    expect(
      medianTimePast(
        parentAt(
          0,
          (h) => times[h],
          () => 0,
        ),
      ),
    ).toBe(5);
  });

  it('rejects the BIP94 timewarp at a period start on testnet4 only', () => {
    const t4 = NETWORKS.testnet4;
    const base = 1_700_000_000;
    const p = parentAt(
      4031,
      (h) => (h === 4031 ? base + 2015 * 600 : base + (h - 2016) * 600),
      () => 0x1d00ffff,
    );
    const want = requiredBits(t4, p, 0);
    const warp = header({ time: p.time - 601, bits: want });
    expect(checkContext(t4, warp, 0, p, base + 10 * TIMESPAN)?.code).toBe('time-timewarp-attack');
    expect(checkContext(t4, header({ time: p.time - 600, bits: want }), 0, p, base + 10 * TIMESPAN)).toBeNull();
  });

  it('rejects versions below 4 after BIP65 on mainnet', () => {
    const p = parentAt(
      400_000,
      (h) => 1_450_000_000 + h * 600,
      () => BITS,
    );
    const t = p.time + 600;
    expect(checkContext(main, header({ version: 3, time: t, bits: BITS }), 0, p, t)?.code).toBe('bad-version');
    expect(checkContext(main, header({ version: 4, time: t, bits: BITS }), 0, p, t)).toBeNull();
  });
});

describe('validateHeader as a pure function', () => {
  const era = readHeaders(SHARED_DATA.genesisEraHeaders);
  const genesis = parentAt(
    0,
    () => 1231006505,
    () => 0x1d00ffff,
  );

  it('accepts block 1 on genesis with its hash and work, and rejects it with a flipped nonce', () => {
    const ok = validateHeader(NETWORKS.main, era[1], genesis, 1_800_000_000);
    expect(ok).toMatchObject({ ok: true, height: 1, work: 0x100010001n });
    if (ok.ok) expect(ok.hash).toEqual(headerHash80(era[1]));
    const bad = Uint8Array.from(era[1]);
    bad[79] ^= 0x80;
    expect(validateHeader(NETWORKS.main, bad, genesis, 1_800_000_000)).toMatchObject({ ok: false, code: 'bad-pow' });
  });

  it('rejects nBits easier than the pow limit even when the rules would ask for them', () => {
    const easy = { ...NETWORKS.regtest, powLimit: NETWORKS.main.powLimit };
    const p = parentAt(
      5,
      (h) => 1_296_688_602 + h * 600,
      () => 0x207fffff,
    );
    const v = validateHeader(easy, header({ time: p.time + 600, bits: 0x207fffff }), p, 1_800_000_000);
    expect(v).toMatchObject({ ok: false, code: 'bad-pow' });
  });
});

describe('checkpoints', () => {
  it('refuses a checkpoint that is not the last block of a period', () => {
    const cp = { ...NETWORKS.main.checkpoints[0], height: 822528 };
    expect(() => new HeaderChain({ network: NETWORKS.main, log: silentLogger(), counters: new Counters(), checkpoint: cp })).toThrow(
      ConfigError,
    );
  });

  it('uses the checkpoint timestamps it is given for the first medians', () => {
    const recent = readHeaders(SHARED_DATA.recentHeaders);
    const first = recent[0];
    const t = first[68] | (first[69] << 8) | (first[70] << 16) | (first[71] << 24);
    // Eleven prior timestamps all at the first header's time: its time is then not above the median.
    const cp = { ...NETWORKS.main.checkpoints[0], recentTimes: Array(11).fill(t) };
    const { chain } = newChain(NETWORKS.main, { checkpoint: cp, nowSeconds: () => 1_800_000_000 });
    expect(chain.addHeaders([first]).rejected?.code).toBe('time-too-old');
  });
});

describe('hashMeetsTarget', () => {
  // The hash as 32 bytes in internal order (a little-endian number), the target as 8 little-endian limbs.
  const hashOf = (n: bigint) => Uint8Array.from({ length: 32 }, (_, i) => Number((n >> BigInt(8 * i)) & 0xffn));
  const limbsOf = (n: bigint) => Uint32Array.from({ length: 8 }, (_, i) => Number((n >> BigInt(32 * i)) & 0xffffffffn));
  it('is hash <= target over all 256 bits, at an offset', () => {
    const target = bitsToTarget(0x1703e8b3)!;
    const cases: [bigint, boolean][] = [
      [target, true],
      [target - 1n, true],
      [target + 1n, false],
      [0n, true],
      [(1n << 256n) - 1n, false],
      [target ^ 1n, false], // differs from the target only in its lowest bit (target is even: one above)
      [target - (1n << 100n), true],
      [target + (1n << 100n), false],
      [1n << 200n, false],
    ];
    for (const [h, ok] of cases) {
      const buf = new Uint8Array(40);
      buf.set(hashOf(h), 5);
      expect(hashMeetsTarget(buf, 5, limbsOf(target)), `hash ${h.toString(16)}`).toBe(ok);
    }
  });
});
