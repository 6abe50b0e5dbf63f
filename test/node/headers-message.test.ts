// decodeHeaders (src/node/messages.ts): per-header copies, or views of one copy (`shared`, the
// p2p link driver's choice, issue 18), with the same bytes and the same strict parsing.
import { describe, expect, it } from 'vitest';
import { decodeHeaders, encodeHeaders } from '../../src/node/messages.js';

const headers = Array.from({ length: 3 }, (_, i) => Uint8Array.from({ length: 80 }, (_, j) => (i * 80 + j) & 0xff));

describe('decodeHeaders', () => {
  it('gives the same headers copied one by one or as views of one copy', () => {
    const payload = encodeHeaders(headers);
    const own = decodeHeaders(payload);
    const shared = decodeHeaders(payload, true);
    expect(own).toEqual(headers);
    expect(shared).toEqual(headers);
    expect(new Set(shared.map((h) => h.buffer)).size).toBe(1);
    expect(shared[0].buffer.byteLength).toBe(3 * 80);
    expect(own[0].buffer).not.toBe(own[1].buffer);
    payload[payload.length - 2] ^= 1; // the inputs are copies: the payload changing leaves them alone
    expect(shared[2]).toEqual(headers[2]);
  });

  it('rejects a non-zero transaction count and a truncated message either way', () => {
    const bad = encodeHeaders(headers);
    bad[1 + 80] = 1;
    for (const shared of [false, true]) {
      expect(() => decodeHeaders(bad, shared)).toThrow(/transaction count/);
      expect(() => decodeHeaders(encodeHeaders(headers).subarray(0, 100), shared)).toThrow(/truncated/);
    }
  });
});
