// Headers over DNS as bitcoinheaders.net serves them: one 80-byte header per name, spread over
// AAAA records (resolvers reorder records, so each address carries its own position).
//
// v0 (older) name `<height>.<height/10000>.<domain>`: each address is a 2-byte arbitrary prefix
//   (served as 2001:), one order nibble, then 27 data nibbles. Six addresses carry 162 nibbles:
//   a version byte (0) and the 80 header bytes.
// v2 (newer) name `v2.<height>.<height/10000>.<domain>`: each address is a 1-byte arbitrary
//   prefix (ignored), one order byte, then 14 data bytes. The data is a version byte (1) and the
//   80 header bytes; the remainder of the last address is padding.
// Pure functions: text addresses in, header bytes out.
import { HEADER_SIZE } from '../../chain/header.js';
import { MalformedInputError } from '../../util/errors.js';

export type DnsHeaderFormat = 'v0' | 'v2';

export function headerName(height: number, domain: string, format: DnsHeaderFormat): string {
  const zone = `${height}.${Math.floor(height / 10000)}.${domain}`;
  return format === 'v2' ? `v2.${zone}` : zone;
}

/** Parses an IPv6 address in text form (including `::` and a dotted IPv4 tail) to 16 bytes. */
export function parseIpv6(text: string): Uint8Array {
  const bad = () => new MalformedInputError('dns-bad-address', `not an IPv6 address: ${text.slice(0, 60)}`);
  let s = text.trim();
  const pct = s.indexOf('%');
  if (pct >= 0) s = s.slice(0, pct);
  const groups: number[] = [];
  const v4 = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  let tail: number[] = [];
  if (v4) {
    const o = v4.slice(1).map(Number);
    if (o.some((x) => x > 255)) throw bad();
    tail = [(o[0] << 8) | o[1], (o[2] << 8) | o[3]];
    s = s.slice(0, v4.index);
    if (s.endsWith(':') && !s.endsWith('::')) s = s.slice(0, -1);
  }
  const parseGroups = (part: string): number[] => {
    if (part === '') return [];
    return part.split(':').map((g) => {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw bad();
      return parseInt(g, 16);
    });
  };
  const dbl = s.indexOf('::');
  if (dbl >= 0) {
    if (s.indexOf('::', dbl + 1) >= 0) throw bad();
    const head = parseGroups(s.slice(0, dbl));
    const rest = parseGroups(s.slice(dbl + 2));
    const fill = 8 - head.length - rest.length - tail.length;
    if (fill < 1) throw bad();
    groups.push(...head, ...new Array<number>(fill).fill(0), ...rest, ...tail);
  } else {
    groups.push(...parseGroups(s), ...tail);
  }
  if (groups.length !== 8) throw bad();
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

function nibble(b: Uint8Array, i: number): number {
  return i % 2 === 0 ? b[i >> 1] >> 4 : b[i >> 1] & 0x0f;
}

/** Decodes the v0 (older) format: exactly six addresses, order nibbles 0..5, version 0. */
export function decodeV0(addresses: string[]): Uint8Array {
  if (addresses.length !== 6) {
    throw new MalformedInputError('dns-bad-answer', `v0 header answer needs 6 addresses, got ${addresses.length}`);
  }
  const byOrder: (Uint8Array | undefined)[] = new Array(6);
  for (const a of addresses) {
    const b = parseIpv6(a);
    const order = b[2] >> 4;
    if (order > 5 || byOrder[order]) {
      throw new MalformedInputError('dns-bad-answer', `v0 header answer: order nibble ${order} missing or repeated`);
    }
    byOrder[order] = b;
  }
  const data = new Uint8Array(81);
  let n = 0;
  for (const b of byOrder as Uint8Array[]) {
    for (let i = 5; i < 32; i++, n++) {
      const v = nibble(b, i);
      data[n >> 1] |= n % 2 === 0 ? v << 4 : v;
    }
  }
  if (data[0] !== 0) throw new MalformedInputError('dns-bad-version', `v0 header answer has version ${data[0]}, expected 0`);
  return data.slice(1, 1 + HEADER_SIZE);
}

/** Decodes the v2 (newer) format: order bytes 0..n-1, data starts with version 1. */
export function decodeV2(addresses: string[]): Uint8Array {
  const needed = Math.ceil((1 + HEADER_SIZE) / 14);
  if (addresses.length < needed || addresses.length > 16) {
    throw new MalformedInputError('dns-bad-answer', `v2 header answer needs ${needed} addresses, got ${addresses.length}`);
  }
  const byOrder: (Uint8Array | undefined)[] = new Array(addresses.length);
  for (const a of addresses) {
    const b = parseIpv6(a);
    const order = b[1];
    if (order >= addresses.length || byOrder[order]) {
      throw new MalformedInputError('dns-bad-answer', `v2 header answer: order byte ${order} out of range or repeated`);
    }
    byOrder[order] = b;
  }
  const data = new Uint8Array(addresses.length * 14);
  (byOrder as Uint8Array[]).forEach((b, i) => data.set(b.subarray(2), i * 14));
  if (data[0] !== 1) throw new MalformedInputError('dns-bad-version', `v2 header answer has version ${data[0]}, expected 1`);
  return data.slice(1, 1 + HEADER_SIZE);
}

export function decodeHeaderAddresses(addresses: string[], format: DnsHeaderFormat): Uint8Array {
  return format === 'v2' ? decodeV2(addresses) : decodeV0(addresses);
}
