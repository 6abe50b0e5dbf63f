// ElligatorSwift keys for BIP324. The field arithmetic of XSwiftEC and its inverse is
// @scure/btc-signer's; the two scalar multiplications (our public key x(priv·G) and the x-only
// ECDH) are node:crypto's secp256k1 ECDH (OpenSSL), and the tagged shared-secret hash is
// node:crypto's SHA-256. We drive it with an injectable random source so sessions are
// reproducible in tests.
// Why not noble's Point.multiply: its first multiplication of the base point builds and keeps a
// table of precomputed multiples (window 6, ~1400 points of three BigInts) for the life of the
// process. A p2p link driver tries v2 on every new peer, so it held the table after one handshake
// (heap snapshot of a p2p link process: 2,082 Point objects and 4,229 BigInts, ~0.3 MB; a
// jitless Node measured +1.4-1.6 MB of anonymous memory across the first BASE.multiply; issue 18).

import { createECDH, createHash } from 'node:crypto';
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

/** secp256k1 ECDH with `privateKey` (1..n-1, 32 bytes) in node:crypto. */
function ecdhWith(privateKey: Uint8Array): ReturnType<typeof createECDH> {
  const ecdh = createECDH('secp256k1');
  ecdh.setPrivateKey(privateKey);
  return ecdh;
}

export function ellswiftCreate(rng: RandomBytes): EllSwiftKeyPair {
  const privateKey = privateKeyFrom(rng);
  // Compressed SEC1 public key: 0x02 or 0x03, then x.
  const x = ecdhWith(privateKey).getPublicKey(null, 'compressed').subarray(1);
  return { privateKey, ellswift: ellswiftEncodeX(bytesToBigInt(x), rng) };
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

/**
 * The x-only ECDH point x(priv · lift_x(XSwiftEC(theirs))). OpenSSL's ECDH secret is the x
 * coordinate of priv·P, and x(priv·P) = x(priv·(-P)), so either lift of x will do: the even one
 * (SEC1 prefix 0x02).
 */
export function ellswiftEcdhX(privateKey: Uint8Array, ellswiftTheirs: Uint8Array): Uint8Array {
  if (ellswiftTheirs.length !== 64) throw new RangeError(`ElligatorSwift encoding must be 64 bytes, got ${ellswiftTheirs.length}`);
  const x = ellswiftDecode(ellswiftTheirs);
  const lifted = new Uint8Array(33);
  lifted[0] = 0x02;
  lifted.set(x, 1);
  return new Uint8Array(ecdhWith(privateKey).computeSecret(lifted));
}

const ECDH_TAG = createHash('sha256').update('bip324_ellswift_xonly_ecdh').digest();

/** BIP324 v2_ecdh: tagged hash (BIP340) of both encodings (initiator's first) and the ECDH x. */
export function v2Ecdh(privateKey: Uint8Array, ellswiftTheirs: Uint8Array, ellswiftOurs: Uint8Array, initiating: boolean): Uint8Array {
  if (ellswiftOurs.length !== 64) throw new RangeError(`ElligatorSwift encoding must be 64 bytes, got ${ellswiftOurs.length}`);
  const x = ellswiftEcdhX(privateKey, ellswiftTheirs);
  const [first, second] = initiating ? [ellswiftOurs, ellswiftTheirs] : [ellswiftTheirs, ellswiftOurs];
  return new Uint8Array(createHash('sha256').update(ECDH_TAG).update(ECDH_TAG).update(first).update(second).update(x).digest());
}
