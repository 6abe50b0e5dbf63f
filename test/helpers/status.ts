// Pieces of a daemon status (GatewayStatus) for the tests of its readers: the status page and
// `altnet status`. Times are around 2026-11-30T12:00:00Z.
import type { PendingTxStatus } from '../../src/gateway/outbox.js';

/** An outbox transaction sent 3 times, last on `air`; `relayed`: acknowledged over radio (TXACK) on `air`. */
export function pendingTx(txid: string, relayed: boolean): PendingTxStatus {
  return {
    txid,
    wtxid: txid,
    vsize: 141,
    addedAt: '2026-11-30T11:58:00.000Z',
    attempts: 3,
    lastSentAt: '2026-11-30T11:59:30.000Z',
    lastLinks: ['air'],
    nextAttemptAt: '2026-11-30T12:01:00.000Z',
    expiresAt: '2026-12-14T11:58:00.000Z',
    ...(relayed ? { relayedAt: '2026-11-30T11:59:40.000Z', relayedVia: 'air' } : {}),
  };
}
