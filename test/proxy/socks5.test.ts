// SOCKS5 server-side parsing (RFC 1928): what Bitcoin Core's client sends, and what it must not.
import { describe, expect, it } from 'vitest';
import { encodeReply, ipv6ToString, parseGreeting, parseRequest, Reply, Socks5Error } from '../../src/proxy/socks5.js';
import { thrownBy } from '../helpers/errors.js';

const b = (...xs: number[]) => Uint8Array.from(xs);
const enc = (s: string) => [...new TextEncoder().encode(s)];

function codeOf(fn: () => unknown): { code: string; reply?: number } {
  const e = thrownBy(fn, Socks5Error);
  return { code: e.code, reply: e.reply };
}

describe('SOCKS5 greeting', () => {
  it("parses Core's greeting with -proxyrandomize (no-auth and user/pass offered)", () => {
    expect(parseGreeting(b(5, 2, 0, 2))).toEqual({ done: true, value: { methods: [0, 2] }, used: 4 });
  });
  it('waits for the whole greeting', () => {
    expect(parseGreeting(b(5))).toEqual({ done: false });
    expect(parseGreeting(b(5, 3, 0, 1))).toEqual({ done: false });
  });
  it('rejects SOCKS4 and zero methods', () => {
    expect(codeOf(() => parseGreeting(b(4, 1, 0))).code).toBe('socks5-bad-version');
    expect(codeOf(() => parseGreeting(b(5, 0))).code).toBe('socks5-no-methods');
  });
});

describe('SOCKS5 CONNECT request', () => {
  it("parses Core's request: a domain-name address, also for IP literals", () => {
    const host = enc('127.0.0.1');
    const r = parseRequest(b(5, 1, 0, 3, host.length, ...host, 0x20, 0x8d, 0xaa));
    expect(r).toEqual({ done: true, value: { host: '127.0.0.1', port: 8333, addressType: 'domain' }, used: 5 + host.length + 2 });
  });
  it('parses IPv4 and IPv6 addresses', () => {
    expect(parseRequest(b(5, 1, 0, 1, 10, 0, 0, 7, 0x47, 0x5d))).toMatchObject({ value: { host: '10.0.0.7', port: 18269 } });
    const v6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    expect(parseRequest(b(5, 1, 0, 4, ...v6, 0, 80))).toMatchObject({ value: { host: '2001:db8::1', port: 80, addressType: 'ipv6' } });
  });
  it('waits for the whole request at every length', () => {
    const host = enc('example.org');
    const full = b(5, 1, 0, 3, host.length, ...host, 0, 80);
    for (let n = 0; n < full.length; n++) expect(parseRequest(full.subarray(0, n)).done).toBe(false);
    expect(parseRequest(full).done).toBe(true);
  });
  it('answers BIND and UDP ASSOCIATE with "command not supported"', () => {
    expect(codeOf(() => parseRequest(b(5, 2, 0, 1, 1, 2, 3, 4, 0, 80)))).toEqual({
      code: 'socks5-command-not-supported',
      reply: Reply.COMMAND_NOT_SUPPORTED,
    });
    expect(codeOf(() => parseRequest(b(5, 3, 0, 1, 1, 2, 3, 4, 0, 80))).reply).toBe(Reply.COMMAND_NOT_SUPPORTED);
  });
  it('rejects unknown address types, a non-zero reserved byte, empty or unprintable names and port 0', () => {
    expect(codeOf(() => parseRequest(b(5, 1, 0, 9, 0, 0))).reply).toBe(Reply.ADDRESS_TYPE_NOT_SUPPORTED);
    expect(codeOf(() => parseRequest(b(5, 1, 1, 1, 1, 2, 3, 4, 0, 80))).code).toBe('socks5-bad-reserved');
    expect(codeOf(() => parseRequest(b(5, 1, 0, 3, 0, 0, 80))).code).toBe('socks5-bad-address');
    expect(codeOf(() => parseRequest(b(5, 1, 0, 3, 2, 0x61, 0x00, 0, 80))).code).toBe('socks5-bad-address');
    expect(codeOf(() => parseRequest(b(5, 1, 0, 3, 2, 0x61, 0x20, 0, 80))).code).toBe('socks5-bad-address');
    expect(codeOf(() => parseRequest(b(5, 1, 0, 1, 1, 2, 3, 4, 0, 0))).code).toBe('socks5-bad-port');
  });
});

describe('SOCKS5 replies and addresses', () => {
  it('encodes a reply with an IPv4 bound address', () => {
    expect([...encodeReply(Reply.SUCCEEDED)]).toEqual([5, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    expect([...encodeReply(Reply.CONNECTION_REFUSED, { ipv4: '127.0.0.1', port: 1324 })]).toEqual([5, 5, 0, 1, 127, 0, 0, 1, 5, 44]);
  });
  it('writes IPv6 with the longest zero run compressed', () => {
    expect(ipv6ToString(new Uint8Array(16))).toBe('::');
    expect(ipv6ToString(b(0, 1, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3))).toBe('1:0:0:2::3');
    expect(ipv6ToString(b(0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1))).toBe('fe80::1');
    expect(ipv6ToString(b(0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8))).toBe('1:2:3:4:5:6:7:8');
  });
});

describe('SOCKS5 parser on random input', () => {
  it('only ever returns "need more", a value, or a Socks5Error (10,000 inputs)', () => {
    let x = 0x2545f491;
    const next = () => ((x ^= x << 13), (x ^= x >>> 17), (x ^= x << 5), x >>> 0);
    for (let i = 0; i < 10_000; i++) {
      const b = new Uint8Array(next() % 40);
      for (let j = 0; j < b.length; j++) b[j] = next() & 0xff;
      if (b.length && i % 2) b[0] = 5; // half of them past the version check
      if (b.length > 3 && i % 4 === 1) [b[1], b[2], b[3]] = [1, 0, [1, 3, 4][next() % 3]];
      for (const parse of [parseGreeting, parseRequest]) {
        try {
          const r = parse(b);
          if (r.done) expect(r.used).toBeLessThanOrEqual(b.length);
        } catch (e) {
          expect(e).toBeInstanceOf(Socks5Error);
        }
      }
    }
  });
});
