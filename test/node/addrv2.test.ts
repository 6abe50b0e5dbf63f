// BIP155 addrv2 decoding and Tor v3 onion names (src/node/addrv2.ts) against spec vectors:
// the per-address vectors of Bitcoin Core's src/test/net_tests.cpp (cnetaddr_unserialize_v2),
// each wrapped here in a one-entry addrv2 message (time 0x5f5e1000, services 0x409, port 8333),
// plus message-level bounds. Every vector names the outcome it must have, so a decoder that
// accepted a bad length or dropped a good address fails.
import { describe, expect, it } from 'vitest';
import { decodeAddrV2, encodeAddrV2, torV3Name, torV3PublicKey, ipv6Text } from '../../src/node/addrv2.js';
import { FIXED_SEEDS } from '../../src/links/peers/fixed-seeds.js';
import { MalformedInputError } from '../../src/util/errors.js';
import { thrownBy } from '../helpers/errors.js';

const hex = (h: string) => Uint8Array.from(Buffer.from(h, 'hex'));
// time 0x5f5e1000 LE, services CompactSize 0xfd 0x0409, then Core's "net len addr", then port 0x208d (8333).
const one = (netLenAddr: string) => hex('01' + '00105e5f' + 'fd0904' + netLenAddr + '208d');

/** [what, network+length+address hex as in Core's test, expected host, or the skip bucket, or the error code] */
const VECTORS: Array<[string, string, { host: string } | { skipped: string } | { error: string }]> = [
  ['valid IPv4', '010401020304', { host: '1.2.3.4' }],
  ['IPv4 with bogus length', '01050102030405', { error: 'addrv2-bad-length' }],
  ['IPv4 with extreme length (513)', '01fd0102' + '00'.repeat(513), { error: 'addrv2-too-long' }],
  ['valid IPv6', '02100102030405060708090a0b0c0d0e0f10', { host: '102:304:506:708:90a:b0c:d0e:f10' }],
  ['IPv6 with bogus length', '020400', { error: 'addrv2-bad-length' }],
  ['IPv6 embedding IPv4', '021000000000000000000000ffff01020304', { skipped: 'embedded' }],
  ['IPv6 embedding TORv2', '0210fd87d87eeb430102030405060708090a', { skipped: 'embedded' }],
  ['TORv2, no longer supported', '030af1f2f3f4f5f6f7f8f9fa', { skipped: 'torv2' }],
  [
    'valid TORv3',
    '042079bcc625184b05194975c28b66b66b0469f7f6556fb1ac3189a79b40dda32f1f',
    { host: 'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion' },
  ],
  ['TORv3 with bogus length', '040000', { error: 'addrv2-bad-length' }],
  ['valid I2P (unreachable: skipped)', '0520a2894dabaec08c0051a481a6dac88b64f98232ae42d4b6fd2fa81952dfe36a87', { skipped: 'i2p' }],
  ['I2P with bogus length', '050300', { error: 'addrv2-bad-length' }],
  ['valid CJDNS (unreachable: skipped)', '0610fc000001000200030004000500060007', { skipped: 'cjdns' }],
  ['CJDNS with bogus length', '060100', { error: 'addrv2-bad-length' }],
  ['unknown network', 'aa0e' + '0102030405060708090a0b0c0d0e', { skipped: 'unknown' }],
  ['unknown network with extreme length', 'aafe00000002', { error: 'addrv2-too-long' }],
];

describe('addrv2 (BIP155): Core net_tests vectors', () => {
  for (const [what, body, want] of VECTORS) {
    it(what, () => {
      const payload = one(body);
      if ('error' in want) {
        let err: unknown;
        try {
          decodeAddrV2(payload);
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(MalformedInputError);
        expect((err as MalformedInputError).code).toBe(want.error);
        return;
      }
      const d = decodeAddrV2(payload);
      if ('host' in want) {
        expect(d.addresses).toEqual([
          {
            time: 0x5f5e1000,
            services: 0x409n,
            network: want.host.endsWith('.onion') ? 'onion' : want.host.includes(':') ? 'ipv6' : 'ipv4',
            host: want.host,
            port: 8333,
          },
        ]);
      } else {
        expect(d.addresses).toEqual([]);
        expect(d.skipped[want.skipped as keyof typeof d.skipped]).toBe(1);
      }
    });
  }
});

describe('addrv2: message bounds', () => {
  const code = (f: () => unknown) => thrownBy(f, MalformedInputError).code;

  it('more than 1,000 entries is refused from the count alone, before anything is read', () => {
    expect(code(() => decodeAddrV2(hex('fde903')))).toBe('p2p-oversize');
    const max = encodeAddrV2(
      Array.from({ length: 1000 }, (_, i) => ({ time: i, services: 1n, net: 1, addr: Uint8Array.of(10, 0, i >> 8, i & 255), port: 8333 })),
    );
    expect(decodeAddrV2(max).addresses).toHaveLength(1000);
  });

  it('truncated entries, trailing bytes and non-canonical sizes are refused with their codes', () => {
    expect(code(() => decodeAddrV2(one('010401020304').subarray(0, 12)))).toBe('p2p-truncated');
    expect(code(() => decodeAddrV2(Uint8Array.from([...one('010401020304'), 0])))).toBe('p2p-trailing-bytes');
    expect(code(() => decodeAddrV2(hex('01' + '00000000' + 'fd0100' + '010401020304208d')))).toBe('p2p-bad-compactsize');
    expect(decodeAddrV2(hex('00'))).toEqual({ addresses: [], skipped: { torv2: 0, i2p: 0, cjdns: 0, unknown: 0, embedded: 0 } });
  });

  it('services are a full 64-bit CompactSize', () => {
    const d = decodeAddrV2(hex('01' + '00000000' + 'ffffffffffffffffff' + '010401020304208d'));
    expect(d.addresses[0].services).toBe(0xffffffffffffffffn);
  });

  it('mixed: kept and skipped entries counted, the round trip of encodeAddrV2 holds', () => {
    const entries = [
      { time: 1, services: 9n, net: 1, addr: hex('7f000001'), port: 18444 },
      { time: 2, services: 9n, net: 5, addr: new Uint8Array(32), port: 0 },
      { time: 3, services: 9n, net: 2, addr: hex('20010db8000000000000000000000001'), port: 8333 },
    ];
    const d = decodeAddrV2(encodeAddrV2(entries));
    expect(d.addresses.map((a) => `${a.host}:${a.port}`)).toEqual(['127.0.0.1:18444', '2001:db8::1:8333']);
    expect(d.skipped.i2p).toBe(1);
  });
});

describe('Tor v3 onion names', () => {
  const key = hex('79bcc625184b05194975c28b66b66b0469f7f6556fb1ac3189a79b40dda32f1f');
  const name = 'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion';

  it('name from key (Core vector) and key from name, case-insensitively', () => {
    expect(torV3Name(key)).toBe(name);
    expect(torV3PublicKey(name)).toEqual(key);
    expect(torV3PublicKey(name.toUpperCase())).toEqual(key);
  });

  it('a mistyped letter, a wrong version, a v2 name or a wrong key size is refused with its code', () => {
    const err = (f: () => unknown) => thrownBy(f, MalformedInputError).code;
    expect(err(() => torV3PublicKey(name.replace('pg6m', 'pg6n')))).toBe('onion-bad-checksum');
    // Same key and checksum bytes, version byte 0x04: the last base32 letter changes.
    expect(err(() => torV3PublicKey(name.replace('yd.onion', 'ye.onion')))).toBe('onion-bad-version');
    expect(err(() => torV3PublicKey('expyuzz4wqqyqhjn.onion'))).toBe('onion-malformed');
    expect(err(() => torV3Name(new Uint8Array(31)))).toBe('onion-bad-key');
  });

  it("every onion in the built-in fixed seeds has a valid checksum (transcribed right from Core's lists)", () => {
    const onions = Object.values(FIXED_SEEDS)
      .flat()
      .map((s) => s.replace(/:\d+$/, ''))
      .filter((h) => h.endsWith('.onion'));
    expect(onions.length).toBeGreaterThanOrEqual(18);
    for (const o of onions) expect(() => torV3PublicKey(o), o).not.toThrow();
  });

  it('IPv6 text is compressed (RFC 5952)', () => {
    expect(ipv6Text(hex('20010db8000000000000000000000001'))).toBe('2001:db8::1');
    expect(ipv6Text(hex('fe800000000000000000000000000000'))).toBe('fe80::');
  });
});
