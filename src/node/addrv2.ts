// BIP155 `addrv2` payloads and Tor v3 onion names. Pure: bytes in, values out, no I/O.
//
// addrv2 (https://github.com/bitcoin/bips/blob/master/bip-0155.mediawiki): CompactSize count
// (at most 1,000, as `addr`), then per entry: time u32 LE, services CompactSize, network id
// u8, address length CompactSize (at most 512), address bytes, port u16 big-endian. Ids: 1 IPv4
// (4 bytes), 2 IPv6 (16), 3 Tor v2 (10; retired), 4 Tor v3 (32: the ed25519 public key),
// 5 I2P (32), 6 CJDNS (16). As Bitcoin Core's CNetAddr::UnserializeV2Stream
// (src/netaddress.cpp): a known network with the wrong length, or a length over 512, refuses
// the whole message; unknown networks, Tor v2, and IPv6 addresses that embed IPv4 or Tor v2
// (::ffff:0:0/96, fd87:d87e:eb43::/48) or Core's internal range (fd6b:88c0:8724::/48) are
// skipped and counted. I2P and CJDNS are well-formed but unreachable for altnet: skipped and
// counted, never an error. Vectors (Core's src/test/net_tests.cpp, cnetaddr_unserialize_v2,
// plus our own) are in test/node/addrv2.test.ts.
//
// Tor v3 names (Tor's rend-spec-v3 section 6, "Encoding onion addresses"):
// base32(PUBKEY | CHECKSUM | VERSION) + ".onion", CHECKSUM = SHA3-256(".onion checksum" |
// PUBKEY | VERSION)[:2], VERSION = 0x03. Base32 is @scure/base's RFC 4648 codec, SHA3 is
// @noble/hashes'.
import { base32 } from '@scure/base';
import { sha3_256 } from '@noble/hashes/sha3.js';
import { MalformedInputError } from '../util/errors.js';
import { MAX_ADDR_PER_MESSAGE, WireReader } from './messages.js';

/** BIP155: "Clients MUST reject messages that contain addresses with a length over 512 bytes". */
export const MAX_ADDRV2_ADDR_SIZE = 512;

export const AddrV2Net = { IPV4: 1, IPV6: 2, TORV2: 3, TORV3: 4, I2P: 5, CJDNS: 6 } as const;

/** The fixed address length of each known network id (BIP155 table). */
const LENGTHS: Record<number, { name: string; size: number }> = {
  1: { name: 'IPv4', size: 4 },
  2: { name: 'IPv6', size: 16 },
  3: { name: 'TORv2', size: 10 },
  4: { name: 'TORv3', size: 32 },
  5: { name: 'I2P', size: 32 },
  6: { name: 'CJDNS', size: 16 },
};

export interface AddrV2Entry {
  time: number;
  services: bigint;
  network: 'ipv4' | 'ipv6' | 'onion';
  /** Dotted IPv4, compressed IPv6, or a v3 `.onion` name. */
  host: string;
  port: number;
}

/** Why entries were skipped (not errors): networks altnet cannot reach or that are retired. */
export interface AddrV2Skipped {
  torv2: number;
  i2p: number;
  cjdns: number;
  unknown: number;
  /** IPv6 that embeds IPv4 or Tor v2, or Core's internal range: meaningless in addrv2. */
  embedded: number;
}

export interface AddrV2Message {
  addresses: AddrV2Entry[];
  skipped: AddrV2Skipped;
}

const hasPrefix = (b: Uint8Array, p: readonly number[]) => p.every((x, i) => b[i] === x);
const IPV4_IN_IPV6 = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];
const TORV2_IN_IPV6 = [0xfd, 0x87, 0xd8, 0x7e, 0xeb, 0x43];
const INTERNAL_IN_IPV6 = [0xfd, 0x6b, 0x88, 0xc0, 0x87, 0x24];

/** Decodes an `addrv2` payload; MalformedInputError (stable code) when it breaks BIP155's rules. */
export function decodeAddrV2(p: Uint8Array): AddrV2Message {
  const r = new WireReader(p, 'addrv2');
  const n = r.count(MAX_ADDR_PER_MESSAGE);
  const addresses: AddrV2Entry[] = [];
  const skipped: AddrV2Skipped = { torv2: 0, i2p: 0, cjdns: 0, unknown: 0, embedded: 0 };
  for (let i = 0; i < n; i++) {
    const time = r.u32();
    const services = r.compactSizeBig();
    const net = r.u8();
    const len = r.compactSize();
    if (len > MAX_ADDRV2_ADDR_SIZE) {
      throw new MalformedInputError('addrv2-too-long', `addrv2: address ${i} is ${len} bytes, over BIP155's ${MAX_ADDRV2_ADDR_SIZE}`);
    }
    const known = LENGTHS[net];
    if (known && len !== known.size) {
      throw new MalformedInputError(
        'addrv2-bad-length',
        `addrv2: BIP155 ${known.name} address with length ${len} (should be ${known.size}), entry ${i}`,
      );
    }
    const addr = r.bytes(len);
    const port = r.u16BE();
    switch (net) {
      case AddrV2Net.IPV4:
        addresses.push({ time, services, network: 'ipv4', host: addr.join('.'), port });
        break;
      case AddrV2Net.IPV6:
        if (hasPrefix(addr, IPV4_IN_IPV6) || hasPrefix(addr, TORV2_IN_IPV6) || hasPrefix(addr, INTERNAL_IN_IPV6)) skipped.embedded++;
        else addresses.push({ time, services, network: 'ipv6', host: ipv6Text(addr), port });
        break;
      case AddrV2Net.TORV3:
        addresses.push({ time, services, network: 'onion', host: torV3Name(addr), port });
        break;
      case AddrV2Net.TORV2:
        skipped.torv2++;
        break;
      case AddrV2Net.I2P:
        skipped.i2p++;
        break;
      case AddrV2Net.CJDNS:
        skipped.cjdns++;
        break;
      default:
        skipped.unknown++;
    }
  }
  r.end();
  return { addresses, skipped };
}

/** Encodes entries as an `addrv2` payload (tests and vectors; altnet never gossips addresses). */
export function encodeAddrV2(
  entries: ReadonlyArray<{ time: number; services: bigint; net: number; addr: Uint8Array; port: number }>,
): Uint8Array {
  const out: number[] = [...compactSize(BigInt(entries.length))];
  for (const e of entries) {
    out.push(e.time & 0xff, (e.time >>> 8) & 0xff, (e.time >>> 16) & 0xff, (e.time >>> 24) & 0xff);
    out.push(...compactSize(e.services), e.net, ...compactSize(BigInt(e.addr.length)), ...e.addr, (e.port >> 8) & 0xff, e.port & 0xff);
  }
  return Uint8Array.from(out);
}

function compactSize(v: bigint): number[] {
  const le = (x: bigint, n: number) => Array.from({ length: n }, (_, i) => Number((x >> BigInt(8 * i)) & 0xffn));
  if (v < 0xfdn) return [Number(v)];
  if (v <= 0xffffn) return [0xfd, ...le(v, 2)];
  if (v <= 0xffffffffn) return [0xfe, ...le(v, 4)];
  return [0xff, ...le(v, 8)];
}

/** 16 bytes as compressed IPv6 text (RFC 5952, as the URL parser prints it). */
export function ipv6Text(b: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i] << 8) | b[i + 1]).toString(16));
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

const ONION_CHECKSUM_PREFIX = new TextEncoder().encode('.onion checksum');
const TORV3_VERSION = 3;

function torV3Checksum(pubkey: Uint8Array): Uint8Array {
  const msg = new Uint8Array(ONION_CHECKSUM_PREFIX.length + 33);
  msg.set(ONION_CHECKSUM_PREFIX);
  msg.set(pubkey, ONION_CHECKSUM_PREFIX.length);
  msg[msg.length - 1] = TORV3_VERSION;
  return sha3_256(msg).subarray(0, 2);
}

/** The `.onion` name of a Tor v3 service from its 32-byte ed25519 public key. */
export function torV3Name(pubkey: Uint8Array): string {
  if (pubkey.length !== 32) throw new MalformedInputError('onion-bad-key', `a Tor v3 key is 32 bytes, not ${pubkey.length}`);
  const all = new Uint8Array(35);
  all.set(pubkey);
  all.set(torV3Checksum(pubkey), 32);
  all[34] = TORV3_VERSION;
  return base32.encode(all).toLowerCase() + '.onion';
}

/**
 * The public key inside a Tor v3 `.onion` name, checking its form, version byte and checksum;
 * MalformedInputError otherwise (a mistyped or made-up name, a retired v2 name).
 */
export function torV3PublicKey(name: string): Uint8Array {
  const m = /^([a-z2-7]{56})\.onion$/.exec(name.toLowerCase());
  if (!m) throw new MalformedInputError('onion-malformed', `${name}: not a Tor v3 onion name (56 base32 letters, then .onion)`);
  const all = base32.decode(m[1].toUpperCase());
  const pubkey = all.subarray(0, 32);
  if (all[34] !== TORV3_VERSION) throw new MalformedInputError('onion-bad-version', `${name}: version ${all[34]}, not 3`);
  const sum = torV3Checksum(pubkey);
  if (sum[0] !== all[32] || sum[1] !== all[33])
    throw new MalformedInputError('onion-bad-checksum', `${name}: checksum does not match (mistyped?)`);
  return pubkey;
}

export function isOnion(host: string): boolean {
  return host.toLowerCase().endsWith('.onion');
}
