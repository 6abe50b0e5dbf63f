// Checks a serialized block before anything reaches the node: its header is the validated header
// expected at that height, the merkle root recomputes (with Bitcoin Core's CVE-2012-2459 mutation
// check), the BIP141 witness commitment matches when present (and no witness data appears without
// one), and size and weight are within consensus limits. Pure: bytes in, a result out, no I/O.
//
// Written by hand (not bitcoinjs-lib's Block.fromBuffer): the parser walks the raw bytes once
// and hashes transaction slices in place, never re-serializing a transaction. Measured in
// test/bench/blocks.ts on the two shared mainnet blocks: see the bench's `blocks.verify` entry,
// where bitcoinjs-lib (Block.fromBuffer + checkTxRoots + witness commit) is the reference.
// test/blocks/verify.test.ts cross-checks txids, roots and the commitment against bitcoinjs-lib.
import { hash as nodeHash } from 'node:crypto';
import { InvalidDataError, MalformedInputError } from '../util/errors.js';
import { equalBytes, hashToHex } from '../util/bytes.js';
import { HEADER_SIZE, headerHash } from '../chain/header.js';
import { sha256d64, sha256of32 } from '../chain/sha256d.js';

/** Consensus limits (Bitcoin Core consensus/consensus.h). */
export const MAX_BLOCK_WEIGHT = 4_000_000;
export const WITNESS_SCALE_FACTOR = 4;
/** Largest serialized block that can fit the weight limit (all witness). */
export const MAX_BLOCK_SERIALIZED_SIZE = 4_000_000;

export type BlockRejectCode =
  | 'block-malformed'
  | 'block-header-mismatch'
  | 'block-bad-merkle-root'
  | 'block-mutated'
  | 'block-bad-witness-commitment'
  | 'block-unexpected-witness'
  | 'block-bad-coinbase'
  | 'block-too-large';

/** A block that breaks a consensus rule checked here. `code` names the rule. */
export class BlockInvalidError extends InvalidDataError {
  constructor(
    readonly rule: BlockRejectCode,
    message: string,
  ) {
    super(rule, message);
  }
}

export interface VerifiedBlock {
  hash: Uint8Array;
  txCount: number;
  /** Serialized size with witness data. */
  size: number;
  /** Size without witness data. */
  strippedSize: number;
  weight: number;
  hasWitnessCommitment: boolean;
}

/** Double SHA-256 of `data` into out[at..at+32]: one native call, then the 32-byte outer hash. */
function sha256dInto(data: Uint8Array, out: Uint8Array, at: number): void {
  sha256of32(nodeHash('sha256', data, 'buffer') as unknown as Uint8Array, 0, out, at);
}

/** Scratch for a segwit transaction's stripped serialization (grown on demand). */
let scratch = new Uint8Array(1 << 16);

/** Reads a CompactSize; returns [value, next offset]. */
function varint(b: Uint8Array, o: number): [number, number] {
  if (o >= b.length) throw new MalformedInputError('block-malformed', 'block ends inside a length field');
  const first = b[o];
  if (first < 0xfd) return [first, o + 1];
  if (first === 0xfd) {
    if (o + 3 > b.length) throw new MalformedInputError('block-malformed', 'block ends inside a length field');
    const v = b[o + 1] | (b[o + 2] << 8);
    if (v < 0xfd) throw new MalformedInputError('block-malformed', 'non-canonical length field');
    return [v, o + 3];
  }
  if (first === 0xfe) {
    if (o + 5 > b.length) throw new MalformedInputError('block-malformed', 'block ends inside a length field');
    const v = (b[o + 1] | (b[o + 2] << 8) | (b[o + 3] << 16)) + b[o + 4] * 0x1000000;
    if (v < 0x10000) throw new MalformedInputError('block-malformed', 'non-canonical length field');
    return [v, o + 5];
  }
  // 0xff: a 64-bit length can never fit in a block.
  throw new MalformedInputError('block-malformed', 'length field over 4 GB');
}

function need(b: Uint8Array, o: number, n: number): void {
  if (n < 0 || o + n > b.length)
    throw new MalformedInputError('block-malformed', `block ends early (needs ${n} bytes at offset ${o} of ${b.length})`);
}

interface TxSpans {
  hasWitness: boolean;
  /** Bytes without witness (marker, flag, witness stacks). */
  stripped: number;
  end: number;
  coinbase: boolean;
  /** Output scripts (offset, length) of this transaction (only kept for the coinbase). */
  outputs?: Array<[number, number]>;
  /** Witness stack of input 0 (coinbase reserved value), as (offset, length) items. */
  witness0?: Array<[number, number]>;
}

const NULL_HASH = new Uint8Array(32);

/**
 * Parses one transaction at `o`; writes its txid to ids[at..] and its wtxid to wids[at..]
 * (hashing the block's own bytes, never a re-serialization).
 */
function parseTx(b: Uint8Array, o: number, keepCoinbase: boolean, ids: Uint8Array, wids: Uint8Array, at: number): TxSpans {
  const start = o;
  need(b, o, 4);
  o += 4;
  let hasWitness = false;
  if (b[o] === 0x00) {
    need(b, o, 2);
    if (b[o + 1] !== 0x01)
      throw new MalformedInputError('block-malformed', `transaction at offset ${start}: unknown serialization flag ${b[o + 1]}`);
    hasWitness = true;
    o += 2;
  }
  const bodyStart = o;
  let nIn: number;
  [nIn, o] = varint(b, o);
  if (nIn === 0) throw new MalformedInputError('block-malformed', `transaction at offset ${start} has no inputs`);
  let coinbase = false;
  for (let i = 0; i < nIn; i++) {
    need(b, o, 36);
    if (
      i === 0 &&
      nIn === 1 &&
      equalBytes(b.subarray(o, o + 32), NULL_HASH) &&
      b[o + 32] === 0xff &&
      b[o + 33] === 0xff &&
      b[o + 34] === 0xff &&
      b[o + 35] === 0xff
    )
      coinbase = true;
    o += 36;
    let len: number;
    [len, o] = varint(b, o);
    need(b, o, len + 4);
    o += len + 4;
  }
  let nOut: number;
  [nOut, o] = varint(b, o);
  const outputs: Array<[number, number]> | undefined = keepCoinbase ? [] : undefined;
  for (let i = 0; i < nOut; i++) {
    need(b, o, 8);
    o += 8;
    let len: number;
    [len, o] = varint(b, o);
    need(b, o, len);
    outputs?.push([o, len]);
    o += len;
  }
  const bodyEnd = o;
  let witness0: Array<[number, number]> | undefined;
  if (hasWitness) {
    let any = false;
    for (let i = 0; i < nIn; i++) {
      let items: number;
      [items, o] = varint(b, o);
      if (items > 0) any = true;
      const stack: Array<[number, number]> = [];
      for (let k = 0; k < items; k++) {
        let len: number;
        [len, o] = varint(b, o);
        need(b, o, len);
        if (i === 0 && keepCoinbase) stack.push([o, len]);
        o += len;
      }
      if (i === 0 && keepCoinbase) witness0 = stack;
    }
    // Core refuses the extended format with all-empty witnesses ("Superfluous witness record").
    if (!any) throw new MalformedInputError('block-malformed', `transaction at offset ${start}: witness flag with no witness data`);
  }
  need(b, o, 4);
  const lockStart = o;
  o += 4;
  if (hasWitness) {
    const n = 4 + (bodyEnd - bodyStart) + 4;
    if (scratch.length < n) scratch = new Uint8Array(Math.max(n, scratch.length * 2));
    scratch.set(b.subarray(start, start + 4), 0);
    scratch.set(b.subarray(bodyStart, bodyEnd), 4);
    scratch.set(b.subarray(lockStart, o), n - 4);
    sha256dInto(scratch.subarray(0, n), ids, at);
    sha256dInto(b.subarray(start, o), wids, at);
  } else {
    sha256dInto(b.subarray(start, o), ids, at);
    wids.set(ids.subarray(at, at + 32), at);
  }
  const stripped = 4 + (bodyEnd - bodyStart) + 4;
  return { hasWitness, stripped, end: o, coinbase, outputs, witness0 };
}

/**
 * Bitcoin Core's ComputeMerkleRoot (consensus/merkle.cpp): pairs hashed level by level, an odd
 * last hash paired with itself; `mutated` is set when two hashes of a pair are equal, the
 * duplicate-txid malleation of CVE-2012-2459 (a block whose last transactions repeat has the
 * same root as the one without them).
 */
export function merkleRoot(leaves: Uint8Array[] | Uint8Array): { root: Uint8Array; mutated: boolean } {
  let n: number;
  let level: Uint8Array;
  if (Array.isArray(leaves)) {
    n = leaves.length;
    level = new Uint8Array(n * 32);
    leaves.forEach((l, i) => level.set(l, i * 32));
  } else {
    n = leaves.length / 32;
    level = Uint8Array.from(leaves);
  }
  if (n === 0) return { root: new Uint8Array(32), mutated: false };
  let mutated = false;
  const pair = new Uint8Array(64);
  // Each level is computed in place over the previous one (node j only reads nodes 2j, 2j+1).
  while (n > 1) {
    let j = 0;
    for (let i = 0; i < n; i += 2, j++) {
      const a = i * 32;
      if (i + 1 < n) {
        const bo = a + 32;
        let same = true;
        for (let k = 0; k < 32; k++) {
          if (level[a + k] !== level[bo + k]) {
            same = false;
            break;
          }
        }
        if (same) mutated = true;
        sha256d64(level, a, level, j * 32);
      } else {
        pair.set(level.subarray(a, a + 32), 0);
        pair.set(level.subarray(a, a + 32), 32);
        sha256d64(pair, 0, level, j * 32);
      }
    }
    n = j;
  }
  return { root: level.slice(0, 32), mutated };
}

/** BIP141: the commitment output is the last one whose script starts OP_RETURN 0x24 aa21a9ed. */
function findCommitment(b: Uint8Array, outputs: Array<[number, number]>): Uint8Array | undefined {
  for (let i = outputs.length - 1; i >= 0; i--) {
    const [o, len] = outputs[i];
    if (
      len >= 38 &&
      b[o] === 0x6a &&
      b[o + 1] === 0x24 &&
      b[o + 2] === 0xaa &&
      b[o + 3] === 0x21 &&
      b[o + 4] === 0xa9 &&
      b[o + 5] === 0xed
    ) {
      return b.subarray(o + 6, o + 38);
    }
  }
  return undefined;
}

/**
 * Verifies a serialized block against the header altnet validated for its height. Throws a
 * BlockInvalidError (rule broken) or MalformedInputError (bytes do not parse), never anything
 * else; returns the block's facts when it passes.
 */
export function verifyBlock(raw: Uint8Array, expectedHeader: Uint8Array): VerifiedBlock {
  if (raw.length < HEADER_SIZE + 1) throw new MalformedInputError('block-malformed', `block of ${raw.length} bytes is too short`);
  if (raw.length > MAX_BLOCK_SERIALIZED_SIZE)
    throw new BlockInvalidError('block-too-large', `block of ${raw.length} bytes exceeds ${MAX_BLOCK_SERIALIZED_SIZE}`);
  const header = raw.subarray(0, HEADER_SIZE);
  if (!equalBytes(header, expectedHeader)) {
    throw new BlockInvalidError(
      'block-header-mismatch',
      `block header ${hashToHex(headerHash(header))} is not the validated header ${hashToHex(headerHash(expectedHeader))}`,
    );
  }
  let [count, o] = varint(raw, HEADER_SIZE);
  if (count === 0) throw new BlockInvalidError('block-bad-coinbase', 'block has no transactions');
  // Core CheckBlock: each transaction is at least 10 stripped bytes... the cheap bound it uses:
  if (count * WITNESS_SCALE_FACTOR > MAX_BLOCK_WEIGHT)
    throw new BlockInvalidError('block-too-large', `${count} transactions cannot fit in a block`);
  const txids = new Uint8Array(count * 32);
  const wtxids = new Uint8Array(count * 32);
  let stripped = o;
  let anyWitness = false;
  let cb: TxSpans | undefined;
  for (let i = 0; i < count; i++) {
    const tx = parseTx(raw, o, i === 0, txids, wtxids, i * 32);
    if (i === 0) {
      if (!tx.coinbase) throw new BlockInvalidError('block-bad-coinbase', 'first transaction is not a coinbase');
      cb = tx;
    } else if (tx.coinbase) {
      throw new BlockInvalidError('block-bad-coinbase', `transaction ${i} is a second coinbase`);
    }
    stripped += tx.stripped;
    anyWitness ||= tx.hasWitness;
    o = tx.end;
  }
  if (o !== raw.length) throw new MalformedInputError('block-malformed', `${raw.length - o} bytes after the last transaction`);
  const weight = stripped * (WITNESS_SCALE_FACTOR - 1) + raw.length;
  if (stripped * WITNESS_SCALE_FACTOR > MAX_BLOCK_WEIGHT || weight > MAX_BLOCK_WEIGHT) {
    throw new BlockInvalidError('block-too-large', `block weight ${weight} exceeds ${MAX_BLOCK_WEIGHT}`);
  }
  wtxids.fill(0, 0, 32); // BIP141: the coinbase's wtxid counts as zero
  const { root, mutated } = merkleRoot(txids);
  if (!equalBytes(root, header.subarray(36, 68))) {
    throw new BlockInvalidError('block-bad-merkle-root', `merkle root of the ${count} transactions does not match the header`);
  }
  if (mutated) throw new BlockInvalidError('block-mutated', 'duplicate transactions in the merkle tree (CVE-2012-2459)');
  const commitment = findCommitment(raw, cb!.outputs!);
  if (commitment) {
    const w = cb!.witness0;
    if (!w || w.length !== 1 || w[0][1] !== 32) {
      throw new BlockInvalidError('block-bad-witness-commitment', 'coinbase witness must be one 32-byte reserved value');
    }
    const reserved = raw.subarray(w[0][0], w[0][0] + 32);
    const wroot = merkleRoot(wtxids).root;
    const pair = new Uint8Array(64);
    pair.set(wroot, 0);
    pair.set(reserved, 32);
    const got = new Uint8Array(32);
    sha256d64(pair, 0, got, 0);
    if (!equalBytes(got, commitment)) {
      throw new BlockInvalidError('block-bad-witness-commitment', 'witness merkle root does not match the coinbase commitment');
    }
  } else if (anyWitness) {
    throw new BlockInvalidError('block-unexpected-witness', 'witness data without a witness commitment');
  }
  return { hash: headerHash(header), txCount: count, size: raw.length, strippedSize: stripped, weight, hasWitnessCommitment: !!commitment };
}
