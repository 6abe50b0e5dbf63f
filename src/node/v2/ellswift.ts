// ElligatorSwift keys for BIP324. The curve arithmetic (XSwiftEC, its inverse, x-only ECDH
// and the tagged shared-secret hash) is @scure/btc-signer's; we only drive it with an
// injectable random source so sessions are reproducible in tests.

import { secp256k1 } from '@noble/curves/secp256k1.js';
import { elligatorSwift } from '@scure/btc-signer/p2p.js';

export type RandomBytes = (n: number) => Uint8Array;

const Point = secp256k1.Point;
const Fp = Point.Fp;
const N = Point.Fn.ORDER;

export interface EllSwiftKeyPair {
  privateKey: Uint8Array;
  /** 64 bytes, indistinguishable from random: u (32) || t (32). */
  ellswift: Uint8Array;
}

function bytesToBigInt(b: Uint8Array): bigint {
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
}

function privateKeyFrom(rng: RandomBytes): Uint8Array {
  for (;;) {
    const k = rng(32);
    const v = bytesToBigInt(k);
    if (v > 0n && v < N) return Uint8Array.from(k);
  }
}

/** The x coordinate of priv·G encoded as XElligatorSwift(x) with u and case drawn from rng. */
export function ellswiftEncodeX(x: bigint, rng: RandomBytes): Uint8Array {
  for (;;) {
    const u = Fp.create(bytesToBigInt(rng(32)));
    if (Fp.is0(u)) continue;
    const ellCase = rng(1)[0] & 7;
    const t = elligatorSwift._inv(x, u, ellCase);
    if (t === undefined) continue;
    const out = new Uint8Array(64);
    out.set(Fp.toBytes(u), 0);
    out.set(Fp.toBytes(t), 32);
    return out;
  }
}

export function ellswiftCreate(rng: RandomBytes): EllSwiftKeyPair {
  const privateKey = privateKeyFrom(rng);
  const p = Point.BASE.multiply(bytesToBigInt(privateKey));
  return { privateKey, ellswift: ellswiftEncodeX(p.x, rng) };
}

/** XSwiftEC: the x coordinate (32 bytes, big-endian) an ElligatorSwift encoding stands for. */
export function ellswiftDecode(ellswift: Uint8Array): Uint8Array {
  return elligatorSwift.decode(ellswift);
}

/** XSwiftECInv(x, u, case): t, or undefined when this case has no solution. */
export function xswiftecInv(x: Uint8Array, u: Uint8Array, ellCase: number): Uint8Array | undefined {
  const t = elligatorSwift._inv(Fp.create(bytesToBigInt(x)), Fp.create(bytesToBigInt(u)), ellCase);
  return t === undefined ? undefined : Fp.toBytes(t);
}

/** The x-only ECDH point x(priv · lift_x(XSwiftEC(theirs))). */
export function ellswiftEcdhX(privateKey: Uint8Array, ellswiftTheirs: Uint8Array): Uint8Array {
  return elligatorSwift.getSharedSecret(privateKey, ellswiftTheirs);
}

/** BIP324 v2_ecdh: tagged hash of both encodings (initiator's first) and the ECDH x. */
export function v2Ecdh(privateKey: Uint8Array, ellswiftTheirs: Uint8Array, ellswiftOurs: Uint8Array, initiating: boolean): Uint8Array {
  return elligatorSwift.getSharedSecretBip324(privateKey, ellswiftTheirs, ellswiftOurs, initiating);
}
