// BIP324 transport detection: which transport an inbound connection speaks, from its first 16
// bytes. Apart from the v2 session (session.ts) so that the node port (node/peer.ts) can tell v1
// from v2 without loading BIP324's session, ciphers and curve libraries: the daemon loads those on
// the first v2 connection (node/server.ts). Pure.

export const V1_PREFIX_LEN = 16;

/** The 16 bytes a v1 peer opens with: magic || "version" || 5 NULs. */
export function v1Prefix(magic: Uint8Array): Uint8Array {
  const p = new Uint8Array(V1_PREFIX_LEN);
  p.set(magic, 0);
  p.set(new TextEncoder().encode('version'), 4);
  return p;
}

/**
 * For a responder: what the first bytes of an inbound connection say about its transport.
 * 'undecided' while every byte so far matches the v1 prefix and fewer than 16 arrived.
 */
export function detectTransport(magic: Uint8Array, firstBytes: Uint8Array): 'v1' | 'v2' | 'undecided' {
  const prefix = v1Prefix(magic);
  const n = Math.min(firstBytes.length, V1_PREFIX_LEN);
  for (let i = 0; i < n; i++) if (firstBytes[i] !== prefix[i]) return 'v2';
  return n === V1_PREFIX_LEN ? 'v1' : 'undecided';
}
