// Heights of block hashes a source link may rely on without asking: checkpoints, genesis, and
// what it learned from answers it validated (bounded).
import { headerHash, HEADER_SIZE } from '../../chain/header.js';
import type { NetworkParams } from '../../chain/networks.js';
import { readU32LE, toHex } from '../../util/bytes.js';

const HEIGHT_CACHE_LIMIT = 20_000;

/**
 * The key of a learned height: the hash's first 4 bytes (internal order: its least significant,
 * random bytes; proof of work zeroes the other end), a small integer V8 stores inline. A learned
 * height is only a hint the link checks with the source before use (SourceLink.resolveLocator),
 * so two hashes sharing a key cost one question, never a wrong answer. Hex string keys cost 80
 * bytes more per entry: 0.65 MB in a link process after an 8,000-header sync, 1.6 MB at the limit
 * (measured in a heap snapshot of the electrum driver, issue 18).
 */
function learnedKey(hash: Uint8Array): number {
  return readU32LE(hash, 0) | 0;
}

/**
 * Heights of block hashes a link may rely on: the network's checkpoints and genesis (trusted
 * without asking anyone) and what this link learned from answers it validated (bounded).
 */
export class KnownHeights {
  private readonly anchors = new Map<string, number>();
  private readonly learned = new Map<number, number>();

  constructor(network: NetworkParams) {
    this.anchors.set(toHex(headerHash(network.genesisHeader)), 0);
    for (const cp of network.checkpoints) this.anchors.set(toHex(cp.hash), cp.height);
  }

  anchor(hash: Uint8Array): number | undefined {
    return this.anchors.get(toHex(hash));
  }

  learnedHeight(hash: Uint8Array): number | undefined {
    return hash.length === 32 ? this.learned.get(learnedKey(hash)) : undefined;
  }

  /** Anchor or learned height. */
  heightOf(hash: Uint8Array): number | undefined {
    return this.anchor(hash) ?? this.learnedHeight(hash);
  }

  remember(height: number, hash: Uint8Array): void {
    if (hash.length !== 32) return;
    const key = learnedKey(hash);
    this.learned.delete(key);
    this.learned.set(key, height);
    if (this.learned.size > HEIGHT_CACHE_LIMIT) {
      const oldest = this.learned.keys().next().value;
      if (oldest !== undefined) this.learned.delete(oldest);
    }
  }

  /** Heights of the gateway's recent best chain (consecutive headers from fromHeight). */
  learnContext(fromHeight: number, headers: Uint8Array[]): void {
    if (!Number.isSafeInteger(fromHeight) || fromHeight < 0) return;
    headers.slice(-2016).forEach((h, i, kept) => {
      if (h.length === HEADER_SIZE) this.remember(fromHeight + (headers.length - kept.length) + i, headerHash(h));
    });
  }

  forget(hash: Uint8Array): void {
    if (hash.length === 32) this.learned.delete(learnedKey(hash));
  }
}
