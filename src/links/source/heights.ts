// Heights of block hashes a source link may rely on without asking: checkpoints, genesis, and
// what it learned from answers it validated (bounded).
import { headerHash, HEADER_SIZE } from '../../chain/header.js';
import type { NetworkParams } from '../../chain/networks.js';
import { toHex } from '../../util/bytes.js';

const HEIGHT_CACHE_LIMIT = 20_000;

/**
 * Heights of block hashes a link may rely on: the network's checkpoints and genesis (trusted
 * without asking anyone) and what this link learned from answers it validated (bounded).
 */
export class KnownHeights {
  private readonly anchors = new Map<string, number>();
  private readonly learned = new Map<string, number>();

  constructor(network: NetworkParams) {
    this.anchors.set(toHex(headerHash(network.genesisHeader)), 0);
    for (const cp of network.checkpoints) this.anchors.set(toHex(cp.hash), cp.height);
  }

  anchor(hash: Uint8Array): number | undefined {
    return this.anchors.get(toHex(hash));
  }

  learnedHeight(hash: Uint8Array): number | undefined {
    return this.learned.get(toHex(hash));
  }

  /** Anchor or learned height. */
  heightOf(hash: Uint8Array): number | undefined {
    return this.anchor(hash) ?? this.learnedHeight(hash);
  }

  remember(height: number, hash: Uint8Array): void {
    const key = toHex(hash);
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
    this.learned.delete(toHex(hash));
  }
}
