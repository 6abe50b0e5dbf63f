// Block verification on the two real mainnet blocks: passes them, cross-checks roots and the
// witness commitment with bitcoinjs-lib, and rejects each mutation with its own rule code.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Block } from 'bitcoinjs-lib';
import { BlockInvalidError, merkleRoot, verifyBlock } from '../../src/blocks/verify.js';
import { headerHash } from '../../src/chain/header.js';
import { hashToHex } from '../../src/util/bytes.js';
import { MalformedInputError } from '../../src/util/errors.js';
import { SHARED_DATA } from '../harness/data.js';

const blocks = [
  { name: '830000', raw: new Uint8Array(readFileSync(SHARED_DATA.block830000)) },
  { name: '831328', raw: new Uint8Array(readFileSync(SHARED_DATA.block831328)) },
];

function reject(raw: Uint8Array, header: Uint8Array): string {
  try {
    verifyBlock(raw, header);
  } catch (e) {
    if (e instanceof BlockInvalidError || e instanceof MalformedInputError) return e.code;
    throw e;
  }
  return 'accepted';
}

/** A coinbase-only block (no witness) with the given extra transactions, root computed. */
function tinyBlock(txs: Uint8Array[]): Uint8Array {
  const coinbase = Buffer.from(
    '01000000' + '01' + '00'.repeat(32) + 'ffffffff' + '0401020304' + 'ffffffff' + '01' + '00f2052a01000000' + '0151' + '00000000',
    'hex',
  );
  const all = [coinbase, ...txs];
  const ids = all.map((t) => createHash('sha256').update(createHash('sha256').update(t).digest()).digest());
  const header = Buffer.alloc(80);
  header.writeUInt32LE(0x20000000, 0);
  Buffer.from(merkleRoot(ids).root).copy(header, 36);
  return new Uint8Array(Buffer.concat([header, Buffer.from([all.length]), ...all]));
}

describe('verifyBlock', () => {
  for (const b of blocks) {
    it(`passes real mainnet block ${b.name} and agrees with bitcoinjs-lib`, () => {
      const header = b.raw.subarray(0, 80);
      const v = verifyBlock(b.raw, header);
      const ref = Block.fromBuffer(Buffer.from(b.raw));
      expect(v.txCount).toBe(ref.transactions!.length);
      expect(ref.checkTxRoots()).toBe(true);
      expect(v.hasWitnessCommitment).toBe(ref.hasWitnessCommit());
      expect(v.weight).toBe(ref.weight());
      expect(v.size).toBe(ref.byteLength(false, true));
      expect(hashToHex(v.hash)).toBe(ref.getId());
    });
  }

  const raw = blocks[0].raw;
  const header = raw.subarray(0, 80);

  it('rejects a block whose header is not the validated one', () => {
    const other = Uint8Array.from(header);
    other[76] ^= 1;
    expect(reject(raw, other)).toBe('block-header-mismatch');
  });

  it('rejects a changed transaction (merkle root no longer matches)', () => {
    const bad = Uint8Array.from(raw);
    // A byte inside the last transaction's non-witness part (its locktime).
    bad[bad.length - 1] ^= 1;
    expect(reject(bad, header)).toBe('block-bad-merkle-root');
  });

  it('rejects a changed witness (commitment no longer matches) with the right merkle root', () => {
    const ref = Block.fromBuffer(Buffer.from(raw));
    // Find the last transaction with a witness and flip a byte of its witness stack in place.
    const txs = ref.transactions!;
    let i = txs.length - 1;
    while (!txs[i].hasWitnesses()) i--;
    const txBytes = txs[i].toBuffer();
    const at = Buffer.from(raw).indexOf(txBytes);
    expect(at).toBeGreaterThan(0);
    // The byte before the locktime is the last byte of the last witness item.
    const bad = Uint8Array.from(raw);
    bad[at + txBytes.length - 5] ^= 1;
    expect(reject(bad, header)).toBe('block-bad-witness-commitment');
  });

  it('rejects a block with trailing bytes and a truncated block', () => {
    const longer = new Uint8Array(raw.length + 1);
    longer.set(raw);
    expect(reject(longer, header)).toBe('block-malformed');
    expect(reject(raw.subarray(0, raw.length - 10), header)).toBe('block-malformed');
  });

  it('rejects the CVE-2012-2459 mutation: last transactions duplicated, same merkle root', () => {
    const tx = Buffer.from(
      '01000000' + '01' + '11'.repeat(32) + '00000000' + '00' + 'ffffffff' + '01' + '0000000000000000' + '0151' + '00000000',
      'hex',
    );
    const tx2 = Buffer.from(tx);
    tx2[5] = 0x22;
    const honest = tinyBlock([tx, tx2]);
    const h = honest.subarray(0, 80);
    expect(reject(honest, h)).toBe('accepted');
    // [cb, tx, tx2] and [cb, tx, tx2, tx2] have the same root.
    const mutated = new Uint8Array(
      Buffer.concat([Buffer.from(honest.subarray(0, 80)), Buffer.from([4]), Buffer.from(honest.subarray(81)), tx2]),
    );
    expect(reject(mutated, h)).toBe('block-mutated');
  });

  it('rejects a block without a coinbase and witness data without a commitment', () => {
    const tx = Buffer.from(
      '01000000' + '01' + '11'.repeat(32) + '00000000' + '00' + 'ffffffff' + '01' + '0000000000000000' + '0151' + '00000000',
      'hex',
    );
    const honest = tinyBlock([tx]);
    const noCb = new Uint8Array(Buffer.concat([Buffer.from(honest.subarray(0, 80)), Buffer.from([1]), tx]));
    expect(reject(noCb, honest.subarray(0, 80))).toBe('block-bad-coinbase');
    // The same tx in segwit form (marker, flag, one witness item) but no commitment in the coinbase.
    const wtx = Buffer.concat([
      tx.subarray(0, 4),
      Buffer.from([0, 1]),
      tx.subarray(4, tx.length - 4),
      Buffer.from([1, 1, 0x42]),
      tx.subarray(tx.length - 4),
    ]);
    const b = tinyBlock([tx]);
    const withWitness = new Uint8Array(
      Buffer.concat([Buffer.from(b.subarray(0, 81)), Buffer.from(b.subarray(81, b.length - tx.length)), wtx]),
    );
    expect(reject(withWitness, b.subarray(0, 80))).toBe('block-unexpected-witness');
  });

  it('names the block hash it checked', () => {
    expect(hashToHex(verifyBlock(raw, header).hash)).toBe(hashToHex(headerHash(header)));
  });
});
