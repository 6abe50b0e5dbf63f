import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import {
  bitsToTarget,
  checkProofOfWork,
  headerHash,
  parseHeader,
  serializeHeader,
  targetToBits,
  workForBits,
} from '../../src/chain/header.js';
import { NETWORKS } from '../../src/chain/networks.js';
import { hashToHex } from '../../src/util/bytes.js';
import { MalformedInputError } from '../../src/util/errors.js';
import { SHARED_DATA } from '../harness/data.js';

describe('block header', () => {
  const genesisEra = readFileSync(SHARED_DATA.genesisEraHeaders);

  it('hashes the real mainnet genesis header to the known hash', () => {
    const raw = new Uint8Array(genesisEra.subarray(0, 80));
    expect(hashToHex(headerHash(raw))).toBe('000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f');
    expect(raw).toEqual(NETWORKS.main.genesisHeader);
  });

  it('round-trips parse and serialize', () => {
    const raw = new Uint8Array(genesisEra.subarray(800, 880));
    expect(serializeHeader(parseHeader(raw))).toEqual(raw);
  });

  it('rejects a header of the wrong size with a typed error', () => {
    expect(() => parseHeader(new Uint8Array(79))).toThrow(MalformedInputError);
  });

  it('expands and compresses compact targets as Core does', () => {
    expect(bitsToTarget(0x1d00ffff)).toBe(0xffffn << 208n);
    expect(targetToBits(0xffffn << 208n)).toBe(0x1d00ffff);
    expect(bitsToTarget(0x04923456)).toBeNull(); // negative
    expect(bitsToTarget(0xff123456)).toBeNull(); // overflow
    expect(workForBits(0x1d00ffff)).toBe(0x100010001n);
  });

  it('checks proof of work and fails a flipped nonce bit', () => {
    const raw = new Uint8Array(genesisEra.subarray(80, 160));
    expect(checkProofOfWork(raw, NETWORKS.main.powLimit)).toBe(true);
    raw[76] ^= 1;
    expect(checkProofOfWork(raw, NETWORKS.main.powLimit)).toBe(false);
  });
});
