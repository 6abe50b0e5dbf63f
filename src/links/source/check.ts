// Pure validation of a fetched header run: sizes, proof of work against each header's own target
// (capped at the network's pow limit) and connection. Bytes in, verdict out; no I/O.
import { checkProofOfWork, headerHash, HEADER_SIZE } from '../../chain/header.js';
import { equalBytes, hashToHex } from '../../util/bytes.js';
import type { LieKind } from './errors.js';

export type ChainCheck = { ok: true; hashes: Uint8Array[] } | { ok: false; kind: LieKind; index: number; reason: string };

/**
 * Checks that `headers` are 80 bytes each, meet their own claimed target (capped at the
 * network's pow limit), and that each one's previous-hash is the hash before it, the first
 * one's being `prevHash`.
 */
export function checkHeaderRun(headers: Uint8Array[], prevHash: Uint8Array, powLimit: bigint): ChainCheck {
  const hashes: Uint8Array[] = [];
  let prev = prevHash;
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i];
    if (h.length !== HEADER_SIZE) {
      return { ok: false, kind: 'disconnected', index: i, reason: `header ${i} is ${h.length} bytes, not 80` };
    }
    if (!equalBytes(h.subarray(4, 36), prev)) {
      return {
        ok: false,
        kind: 'disconnected',
        index: i,
        reason: `header ${i} does not follow ${hashToHex(prev)}`,
      };
    }
    if (!checkProofOfWork(h, powLimit)) {
      return { ok: false, kind: 'bad-pow', index: i, reason: `header ${i} does not meet its target` };
    }
    prev = headerHash(h);
    hashes.push(prev);
  }
  return { ok: true, hashes };
}
