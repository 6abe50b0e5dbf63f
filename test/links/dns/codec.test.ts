import { describe, expect, it } from 'vitest';
import { decodeV0, decodeV2, headerName, parseIpv6 } from '../../../src/links/dns/codec.js';
import { NETWORKS } from '../../../src/chain/networks.js';
import { MalformedInputError } from '../../../src/util/errors.js';
import { encodeV0, encodeV2 } from '../../servers/dns-server.js';
import { servedChain } from '../../servers/chain.js';

/** RFC 5952-ish text form, enough to feed the decoder what a resolver prints. */
function formatIpv6(b: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i] << 8) | b[i + 1]).toString(16));
  return groups.join(':');
}

describe('headers-over-DNS codec', () => {
  it('names heights in sub-zones of 10,000, with the v2 label for the newer format', () => {
    expect(headerName(0, 'bitcoinheaders.net', 'v0')).toBe('0.0.bitcoinheaders.net');
    expect(headerName(822528, 'bitcoinheaders.net', 'v2')).toBe('v2.822528.82.bitcoinheaders.net');
  });

  it('parses IPv6 text forms, including :: and a dotted tail', () => {
    expect(parseIpv6('2001:0:1000::')).toEqual(Uint8Array.from([0x20, 1, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
    expect(parseIpv6('::ffff:1.2.3.4').subarray(10)).toEqual(Uint8Array.from([0xff, 0xff, 1, 2, 3, 4]));
    expect(parseIpv6('1:2:3:4:5:6:7:8')[15]).toBe(8);
    for (const bad of ['1::2::3', '12345::', '1:2:3', 'g::', '1:2:3:4:5:6:7:8:9']) {
      expect(() => parseIpv6(bad)).toThrow(MalformedInputError);
    }
  });

  it('matches the genesis example in the bitcoinheaders.net documentation (older format)', () => {
    const addrs = encodeV0(NETWORKS.main.genesisHeader);
    // The first three records as the documentation lists them.
    expect(addrs[0]).toEqual(parseIpv6('2001:0:1000::'));
    expect(addrs[1]).toEqual(parseIpv6('2001:1000::'));
    expect(addrs[2]).toEqual(parseIpv6('2001:2000::3ba:3edf'));
    expect(decodeV0(addrs.map(formatIpv6).reverse())).toEqual(NETWORKS.main.genesisHeader);
  });

  it('decodes both formats whatever order the records arrive in', () => {
    const h = servedChain().headers[100];
    const v0 = encodeV0(h).map(formatIpv6);
    const v2 = encodeV2(h).map(formatIpv6);
    expect(decodeV0([v0[3], v0[0], v0[5], v0[1], v0[4], v0[2]])).toEqual(h);
    expect(decodeV2([v2[5], v2[4], v2[3], v2[2], v2[1], v2[0]])).toEqual(h);
    // The v2 prefix byte is arbitrary and must be ignored.
    expect(decodeV2(encodeV2(h, 1, 0xfe).map(formatIpv6))).toEqual(h);
  });

  it('rejects missing, repeated or wrong-version records with typed errors', () => {
    const h = servedChain().headers[0];
    const v0 = encodeV0(h).map(formatIpv6);
    const v2 = encodeV2(h).map(formatIpv6);
    expect(() => decodeV0(v0.slice(1))).toThrow(MalformedInputError);
    expect(() => decodeV0([v0[0], ...v0.slice(0, 5)])).toThrow(/repeated/);
    expect(() => decodeV2(v2.slice(0, 5))).toThrow(MalformedInputError);
    expect(() => decodeV2(encodeV2(h, 2).map(formatIpv6))).toThrow(/version 2/);
    expect(() => decodeV0(encodeV0(h, 1).map(formatIpv6))).toThrow(/version 1/);
  });
});
