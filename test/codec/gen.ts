// Random but structurally realistic header chains for property tests, fuzzing and vectors.
import { headerHash, HEADER_SIZE } from '../../src/chain/header.js';
import { writeU32LE } from '../../src/util/bytes.js';
import type { Prng } from './prng.js';

/** A chain of `n` headers after `parent`, with the field quirks the codec must survive. */
export function randomChain(rng: Prng, parent: Uint8Array, n: number, opts: { wild?: boolean } = {}): Uint8Array[] {
  const out: Uint8Array[] = [];
  let prev = parent;
  let time = readU32(parent, 68);
  let bits = readU32(parent, 72);
  for (let i = 0; i < n; i++) {
    const h = new Uint8Array(HEADER_SIZE);
    let version: number;
    const vr = rng.float();
    if (vr < 0.6) version = (0x20000000 | ((rng.u32() & 0xffff) << 13)) >>> 0;
    else if (vr < 0.75) version = 0x20000000;
    else if (vr < 0.85) version = (0x20000004 | ((rng.u32() & 0xff) << 13)) >>> 0;
    else if (vr < 0.9) version = rng.pick([1, 2, 3, 4, 0x20000000 | 0x1fffe000]);
    else version = rng.u32();
    const tr = rng.float();
    if (tr < 0.8) time = (time + Math.floor(-Math.log(1 - rng.float()) * 600)) >>> 0;
    else if (tr < 0.9) time = (time - rng.range(1, 5000)) >>> 0;
    else if (tr < 0.95) time = (time + rng.range(16000, 100000)) >>> 0;
    else if (opts.wild) time = rng.u32();
    if (rng.chance(opts.wild ? 0.2 : 0.02)) bits = rng.u32();
    writeU32LE(h, 0, version);
    h.set(headerHash(prev), 4);
    h.set(rng.bytes(32), 36);
    writeU32LE(h, 68, time);
    writeU32LE(h, 72, bits);
    writeU32LE(h, 76, rng.u32());
    out.push(h);
    prev = h;
  }
  return out;
}

export function randomHeader(rng: Prng): Uint8Array {
  return rng.bytes(HEADER_SIZE);
}

function readU32(b: Uint8Array, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
}
