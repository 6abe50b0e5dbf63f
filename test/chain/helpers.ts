// Test helpers: mine headers on easy-target networks and read the shared files.
import { readFileSync } from 'node:fs';
import { serializeHeader } from '../../src/chain/header.js';
import { NETWORKS, type NetworkParams } from '../../src/chain/networks.js';
import { headerHash80 } from '../../src/chain/sha256d.js';
import { bitsToTarget, hashToBigInt } from '../../src/chain/header.js';
import { Counters } from '../../src/util/counters.js';
import { memoryLogger } from '../../src/util/log.js';
import { HeaderChain, type HeaderChainOptions } from '../../src/chain/chain.js';

export function splitHeaders(file: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let o = 0; o + 80 <= file.length; o += 80) out.push(file.slice(o, o + 80));
  return out;
}

export function readHeaders(path: string): Uint8Array[] {
  return splitHeaders(new Uint8Array(readFileSync(path)));
}

/** A header on top of `prev` that meets its nBits (only practical for easy targets). */
export function mine(prev: Uint8Array, time: number, bits: number, opts: { version?: number; salt?: number } = {}): Uint8Array {
  const target = bitsToTarget(bits);
  if (target === null) throw new Error('bad bits');
  const merkleRoot = new Uint8Array(32);
  merkleRoot[0] = (opts.salt ?? 0) & 0xff;
  merkleRoot[1] = ((opts.salt ?? 0) >>> 8) & 0xff;
  const prevHash = headerHash80(prev);
  for (let nonce = 0; ; nonce++) {
    const raw = serializeHeader({ version: opts.version ?? 0x20000000, prevHash, merkleRoot, time, bits, nonce });
    if (hashToBigInt(headerHash80(raw)) <= target) return raw;
  }
}

/** Mines `n` headers on `prev`, `spacing` seconds apart, all with `bits`. */
export function mineRun(prev: Uint8Array, n: number, startTime: number, spacing: number, bits: number, salt = 0): Uint8Array[] {
  const out: Uint8Array[] = [];
  let p = prev;
  for (let i = 0; i < n; i++) {
    p = mine(p, startTime + i * spacing, bits, { salt });
    out.push(p);
  }
  return out;
}

export function newChain(network: NetworkParams = NETWORKS.regtest, extra: Partial<HeaderChainOptions> = {}) {
  const counters = new Counters();
  const log = memoryLogger();
  const chain = new HeaderChain({ network, log, counters, nowSeconds: () => 2_000_000_000, ...extra });
  return { chain, counters, log };
}
