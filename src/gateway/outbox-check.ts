// The outbox's check of a transaction before it is stored or sent: hex a user pasted, parsed
// strictly with bitcoinjs-lib, standard size, no legacy form without inputs. Pure; no I/O.
import type { Transaction } from 'bitcoinjs-lib';
import { InvalidDataError, MalformedInputError } from '../util/errors.js';
import { fromHex, hashToHex } from '../util/bytes.js';
import { requireLate } from '../util/require-late.js';

/** Bitcoin Core's standardness limit (MAX_STANDARD_TX_WEIGHT / 4): larger ones are not relayed. */
export const MAX_TX_VSIZE = 100_000;

export interface CheckedTx {
  raw: Uint8Array;
  /** Display order (as block explorers and bitcoin-cli show it). */
  txid: string;
  wtxid: string;
  vsize: number;
  inputs: number;
  outputs: number;
}

/** What a CLI user may paste: hex with surrounding whitespace; line breaks inside are allowed. */
export function parseTxHex(text: string): Uint8Array {
  const hex = text.replace(/\s+/g, '');
  if (hex.length === 0)
    throw new MalformedInputError(
      'tx-empty',
      "no transaction given: pass the raw transaction as hex (from signrawtransactionwithwallet or your wallet's export)",
    );
  const bad = /[^0-9a-fA-F]/.exec(hex);
  if (bad)
    throw new MalformedInputError(
      'tx-not-hex',
      `the transaction is not hex: character ${JSON.stringify(bad[0])} at position ${bad.index + 1}`,
    );
  if (hex.length % 2)
    throw new MalformedInputError(
      'tx-not-hex',
      `the transaction hex has an odd number of digits (${hex.length}); a digit is missing, was it cut off?`,
    );
  if (hex.length > 8 * MAX_TX_VSIZE)
    throw new InvalidDataError(
      'tx-too-large',
      `the transaction is ${hex.length / 2} bytes; transactions over ${MAX_TX_VSIZE / 1000} kvB are not relayed by the network`,
    );
  return fromHex(hex);
}

function readCompactSize(b: Uint8Array, o: number): [number, number] | undefined {
  if (o >= b.length) return undefined;
  const first = b[o];
  const len = first < 0xfd ? 0 : first === 0xfd ? 2 : first === 0xfe ? 4 : 8;
  if (o + 1 + len > b.length) return undefined;
  if (len === 0) return [first, o + 1];
  let v = 0;
  for (let i = len - 1; i >= 0; i--) v = v * 256 + b[o + 1 + i];
  return [v, o + 1 + len];
}

/**
 * A zero-input transaction starts like a segwit one (version, 0x00, then 0x01 as the output
 * count), so a failed segwit parse may be a well-formed transaction without inputs. Bitcoin
 * Core tries both readings too; this one only says whether the legacy reading fits exactly.
 */
function isLegacyWithoutInputs(b: Uint8Array): boolean {
  if (b.length < 10 || b[4] !== 0) return false;
  let r = readCompactSize(b, 5);
  if (!r) return false;
  let [n, o] = r;
  for (let i = 0; i < n; i++) {
    o += 8;
    r = readCompactSize(b, o);
    if (!r) return false;
    o = r[1] + r[0];
    if (o > b.length) return false;
  }
  return o + 4 === b.length;
}

/**
 * Parses and checks a transaction the way it must be before it is worth airtime: it parses
 * completely and canonically, has inputs and outputs, is not a coinbase, and is within the
 * relay size limit. Everything else (signatures, fees, inputs' existence) is the node's job.
 */
// bitcoinjs-lib costs the daemon about 5 MB of memory; it is loaded on the first transaction
// (util/require-late.ts).
let transactionClass: typeof Transaction | undefined;
function TransactionClass(): typeof Transaction {
  return (transactionClass ??= requireLate<typeof import('bitcoinjs-lib')>('bitcoinjs-lib').Transaction);
}

export function checkTransaction(input: string | Uint8Array): CheckedTx {
  const raw = typeof input === 'string' ? parseTxHex(input) : input;
  if (raw.length > 4 * MAX_TX_VSIZE)
    throw new InvalidDataError(
      'tx-too-large',
      `the transaction is ${raw.length} bytes; transactions over ${MAX_TX_VSIZE / 1000} kvB are not relayed by the network`,
    );
  if (raw.length < 10)
    throw new MalformedInputError('tx-malformed', `${raw.length} bytes is too short to be a transaction (at least 10); was it cut off?`);
  let tx: Transaction;
  try {
    tx = TransactionClass().fromBuffer(Buffer.from(raw.buffer, raw.byteOffset, raw.length));
  } catch (err) {
    if (isLegacyWithoutInputs(raw))
      throw new InvalidDataError('tx-no-inputs', 'the transaction has no inputs; it spends nothing, so no node will accept it');
    const why = (err as Error).message;
    if (/superfluous witness/i.test(why))
      throw new MalformedInputError(
        'tx-noncanonical',
        'the transaction has a segwit marker but no witness data (not canonical; nodes reject it); re-export it from the wallet',
      );
    const hint = /unexpected data/i.test(why)
      ? 'there are extra bytes after its end'
      : 'it ends too early (truncated) or its fields are garbled';
    throw new MalformedInputError(
      'tx-malformed',
      `the transaction does not parse: ${hint} (${why}); give the complete signed raw transaction in hex`,
    );
  }
  if (tx.ins.length === 0)
    throw new InvalidDataError('tx-no-inputs', 'the transaction has no inputs; it spends nothing, so no node will accept it');
  if (tx.outs.length === 0) throw new InvalidDataError('tx-no-outputs', 'the transaction has no outputs; no node will accept it');
  if (!equalBuffers(tx.toBuffer(), raw)) {
    // e.g. a segwit marker with only empty witnesses: Core rejects it as "superfluous witness record".
    throw new MalformedInputError(
      'tx-noncanonical',
      'the transaction is not in canonical serialization (a segwit marker with no witness data?); re-export it from the wallet',
    );
  }
  if (tx.isCoinbase()) throw new InvalidDataError('tx-coinbase', 'this is a coinbase transaction; only miners create those, in blocks');
  const vsize = tx.virtualSize();
  if (vsize > MAX_TX_VSIZE)
    throw new InvalidDataError(
      'tx-too-large',
      `the transaction is ${vsize} vB; transactions over ${MAX_TX_VSIZE} vB are not relayed by the network`,
    );
  return {
    raw,
    txid: tx.getId(),
    wtxid: hashToHex(tx.getHash(true)),
    vsize,
    inputs: tx.ins.length,
    outputs: tx.outs.length,
  };
}

function equalBuffers(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
