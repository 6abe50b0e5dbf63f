// The real mainnet headers the test servers serve (heights 822528..830592), indexed both ways.
import { readFileSync } from 'node:fs';
import { headerHash, HEADER_SIZE } from '../../src/chain/header.js';
import { toHex } from '../../src/util/bytes.js';
import { SHARED_DATA } from '../harness/data.js';

export interface ServedChain {
  /** Height of headers[0]. */
  first: number;
  headers: Uint8Array[];
  hashes: Uint8Array[];
  /** Hash of the block before `first` (the mainnet checkpoint). */
  parentHash: Uint8Array;
  heightOf(hash: Uint8Array): number | undefined;
  at(height: number): Uint8Array | undefined;
  hashAt(height: number): Uint8Array | undefined;
  last: number;
}

let cached: ServedChain | null = null;

export function servedChain(): ServedChain {
  if (cached) return cached;
  const buf = readFileSync(SHARED_DATA.recentHeaders);
  const headers: Uint8Array[] = [];
  for (let o = 0; o + HEADER_SIZE <= buf.length; o += HEADER_SIZE) headers.push(new Uint8Array(buf.subarray(o, o + HEADER_SIZE)));
  const hashes = headers.map(headerHash);
  const first = SHARED_DATA.recentFirstHeight;
  const index = new Map<string, number>();
  const parentHash = headers[0].slice(4, 36);
  index.set(toHex(parentHash), first - 1);
  hashes.forEach((h, i) => index.set(toHex(h), first + i));
  cached = {
    first,
    headers,
    hashes,
    parentHash,
    last: first + headers.length - 1,
    heightOf: (hash) => index.get(toHex(hash)),
    at: (height) => headers[height - first],
    hashAt: (height) => (height === first - 1 ? parentHash : hashes[height - first]),
  };
  return cached;
}

/** A copy of a header with its nonce changed: it no longer meets its target. */
export function breakPow(h: Uint8Array): Uint8Array {
  const c = Uint8Array.from(h);
  c[76] ^= 0x5a;
  return c;
}

/** A copy of a header with another previous-hash: valid-looking but does not connect. */
export function disconnect(h: Uint8Array): Uint8Array {
  const c = Uint8Array.from(h);
  c[10] ^= 0xff;
  return c;
}

/**
 * The chain as a lying server tells it: the real headers, except at `lieAt` (default first + 10)
 * where 'bad-pow' breaks the header's proof of work and 'disconnected' puts the next header in
 * its place (it does not connect). Any other lie leaves the headers real.
 */
export function toldChain(lie: string | undefined, lieAt?: number): { served: Uint8Array[]; lieAt: number } {
  const chain = servedChain();
  const at = lieAt ?? chain.first + 10;
  const served = chain.headers.slice();
  const i = at - chain.first;
  if (lie === 'bad-pow') served[i] = breakPow(served[i]);
  if (lie === 'disconnected') served[i] = served[i + 1];
  return { served, lieAt: at };
}
