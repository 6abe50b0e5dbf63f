// The server side of a SOCKS5 CONNECT handshake (RFC 1928), no authentication only: the
// method greeting, the request and the replies. Pure: bytes in, values out, no I/O. Written
// by hand because it is the whole of what the BIP324 proxy needs from SOCKS on its listening
// side (the `socks` package is a client); the outbound side through an upstream proxy uses
// `socks`. Parsing is strict: anything RFC 1928 does not allow is a MalformedInputError
// with a stable code, plus the reply code to send back when the protocol still allows one.
//
// Bitcoin Core's client (src/netbase.cpp, Socks5()) offers methods 0x00 and, with
// -proxyrandomize (the default), 0x02; it always asks by DOMAINNAME, also for IP literals.
import { MalformedInputError } from '../util/errors.js';

export const SOCKS_VERSION = 0x05;
export const METHOD_NO_AUTH = 0x00;
export const METHOD_NONE_ACCEPTABLE = 0xff;
export const CMD_CONNECT = 0x01;
export const ATYP_IPV4 = 0x01;
export const ATYP_DOMAIN = 0x03;
export const ATYP_IPV6 = 0x04;

/** Reply codes (RFC 1928 section 6). */
export const Reply = {
  SUCCEEDED: 0x00,
  GENERAL_FAILURE: 0x01,
  NOT_ALLOWED: 0x02,
  NETWORK_UNREACHABLE: 0x03,
  HOST_UNREACHABLE: 0x04,
  CONNECTION_REFUSED: 0x05,
  TTL_EXPIRED: 0x06,
  COMMAND_NOT_SUPPORTED: 0x07,
  ADDRESS_TYPE_NOT_SUPPORTED: 0x08,
} as const;

/** A SOCKS5 protocol error; `reply` is the code to answer with before closing, if any. */
export class Socks5Error extends MalformedInputError {
  constructor(
    code: string,
    message: string,
    readonly reply?: number,
  ) {
    super(code, message);
  }
}

/** Either "need more bytes" or a value plus how many bytes of the input it used. */
export type Parsed<T> = { done: false } | { done: true; value: T; used: number };

const NEED = { done: false } as const;

function checkVersion(b: Uint8Array, what: string): void {
  if (b[0] !== SOCKS_VERSION) {
    throw new Socks5Error(
      'socks5-bad-version',
      `${what}: version byte 0x${b[0].toString(16).padStart(2, '0')} is not SOCKS5 (0x05); configure the client for SOCKS5`,
    );
  }
}

/** VER NMETHODS METHODS...: the methods the client offers. */
export function parseGreeting(b: Uint8Array): Parsed<{ methods: number[] }> {
  if (b.length < 2) return NEED;
  checkVersion(b, 'SOCKS5 greeting');
  const n = b[1];
  if (n === 0) throw new Socks5Error('socks5-no-methods', 'SOCKS5 greeting offers no authentication method');
  if (b.length < 2 + n) return NEED;
  return { done: true, value: { methods: [...b.subarray(2, 2 + n)] }, used: 2 + n };
}

/** Our choice of method: no authentication, or 0xFF when the client did not offer it. */
export function encodeMethodChoice(method: number): Uint8Array {
  return Uint8Array.of(SOCKS_VERSION, method);
}

export interface ConnectRequest {
  /** IPv4 dotted quad, IPv6 (RFC 5952-ish lower-case, no brackets) or a domain name. */
  host: string;
  port: number;
  addressType: 'ipv4' | 'ipv6' | 'domain';
}

/** Domain names: printable ASCII without spaces (RFC 1928 only bounds the length). */
const DOMAIN_RE = /^[\x21-\x7e]+$/;

/** VER CMD RSV ATYP DST.ADDR DST.PORT, CONNECT only. */
export function parseRequest(b: Uint8Array): Parsed<ConnectRequest> {
  if (b.length < 4) return NEED;
  checkVersion(b, 'SOCKS5 request');
  if (b[1] !== CMD_CONNECT) {
    throw new Socks5Error(
      'socks5-command-not-supported',
      `SOCKS5 command ${b[1]} is not supported; only CONNECT (1)`,
      Reply.COMMAND_NOT_SUPPORTED,
    );
  }
  if (b[2] !== 0) throw new Socks5Error('socks5-bad-reserved', 'SOCKS5 request reserved byte is not 0', Reply.GENERAL_FAILURE);
  let host: string;
  let addressType: ConnectRequest['addressType'];
  let end: number;
  switch (b[3]) {
    case ATYP_IPV4:
      end = 4 + 4;
      if (b.length < end + 2) return NEED;
      host = [...b.subarray(4, 8)].join('.');
      addressType = 'ipv4';
      break;
    case ATYP_IPV6:
      end = 4 + 16;
      if (b.length < end + 2) return NEED;
      host = ipv6ToString(b.subarray(4, 20));
      addressType = 'ipv6';
      break;
    case ATYP_DOMAIN: {
      if (b.length < 5) return NEED;
      const n = b[4];
      if (n === 0) throw new Socks5Error('socks5-bad-address', 'SOCKS5 request has an empty domain name', Reply.GENERAL_FAILURE);
      end = 5 + n;
      if (b.length < end + 2) return NEED;
      host = String.fromCharCode(...b.subarray(5, end));
      if (!DOMAIN_RE.test(host)) {
        throw new Socks5Error('socks5-bad-address', 'SOCKS5 domain name is not printable ASCII', Reply.GENERAL_FAILURE);
      }
      addressType = 'domain';
      break;
    }
    default:
      throw new Socks5Error(
        'socks5-address-type-not-supported',
        `SOCKS5 address type ${b[3]} is unknown (1 IPv4, 3 domain, 4 IPv6)`,
        Reply.ADDRESS_TYPE_NOT_SUPPORTED,
      );
  }
  const port = (b[end] << 8) | b[end + 1];
  if (port === 0) throw new Socks5Error('socks5-bad-port', 'SOCKS5 request asks for port 0', Reply.GENERAL_FAILURE);
  return { done: true, value: { host, port, addressType }, used: end + 2 };
}

/**
 * VER REP RSV ATYP BND.ADDR BND.PORT. The bound address is IPv4 0.0.0.0:0 unless given:
 * clients of a CONNECT proxy have no use for it (Core reads and ignores it).
 */
export function encodeReply(reply: number, bound?: { ipv4: string; port: number }): Uint8Array {
  const out = Uint8Array.of(SOCKS_VERSION, reply, 0, ATYP_IPV4, 0, 0, 0, 0, 0, 0);
  if (bound) {
    const parts = bound.ipv4.split('.').map(Number);
    if (parts.length === 4 && parts.every((x) => Number.isInteger(x) && x >= 0 && x <= 255)) out.set(parts, 4);
    out[8] = (bound.port >> 8) & 0xff;
    out[9] = bound.port & 0xff;
  }
  return out;
}

/** 16 bytes to IPv6 text: lower-case hex groups, the longest run (2+) of zero groups as `::`. */
export function ipv6ToString(b: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i] << 8) | b[i + 1]);
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [bestStart, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}
