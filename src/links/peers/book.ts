// The `peers` link's address book: addresses heard from DNS seeds, which were tried, which lied
// (banned for good), bounded in size and saved atomically (util/durable.ts) so a crash never
// leaves half a file. Netgroups (/16 IPv4, /32 IPv6, 4 bits of an onion key) as Bitcoin Core's
// CNetAddr::GetGroup, so that the chosen peers are not all in one operator's range.
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import net from 'node:net';
import { writeFileDurably } from '../../util/durable.js';

/** At most this many entries are kept; banned ones are kept first (forgetting a liar would let it back). */
export const MAX_BOOK_ENTRIES = 1000;

export interface BookEntry {
  host: string;
  port: number;
  /** Why it is banned (a lie), or absent. */
  banned?: string;
  /** ms since epoch of the last successful connection. */
  lastGood?: number;
}

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/**
 * The netgroup of an address: a.b for IPv4 (/16), the first 32 bits for IPv6, and for a Tor
 * onion the first 4 bits of its key (Core's CNetAddr::GetGroup: onion peers apart from IP
 * ones, in 16 groups); the name otherwise.
 */
export function netgroup(host: string): string {
  const onion = /^([a-z2-7])[a-z2-7]{55}\.onion$/.exec(host.toLowerCase());
  if (onion) return 'onion:' + (BASE32.indexOf(onion[1]) >> 1).toString(16);
  if (net.isIPv4(host)) return 'ipv4:' + host.split('.').slice(0, 2).join('.');
  if (net.isIPv6(host)) {
    const full = expandIPv6(host);
    const mapped = /^0000:0000:0000:0000:0000:ffff:([0-9a-f]{4}):([0-9a-f]{4})$/.exec(full);
    if (mapped) return `ipv4:${parseInt(mapped[1].slice(0, 2), 16)}.${parseInt(mapped[1].slice(2), 16)}`;
    return 'ipv6:' + full.slice(0, 9);
  }
  return 'name:' + host.toLowerCase();
}

/**
 * Whether an address may be a public peer, as Core's CNetAddr::IsRoutable: not loopback,
 * private (RFC 1918, RFC 4193), shared (RFC 6598), link-local, benchmarking (RFC 2544),
 * documentation (RFC 5737, RFC 3849), ORCHID (RFC 4843, RFC 7343), unspecified, multicast or
 * reserved. Onion names are routable. A peer (or a seed) naming such addresses on a public
 * network is ignored for them: they would point this machine at its own LAN.
 */
export function isPublicAddress(host: string): boolean {
  if (net.isIPv4(host)) {
    const [a, b] = host.split('.').map(Number);
    if (a === 0 || a === 10 || a === 127 || a >= 224) return false;
    if ((a === 169 && b === 254) || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return false;
    if ((a === 100 && b >= 64 && b <= 127) || (a === 198 && (b === 18 || b === 19))) return false;
    if (/^(192\.0\.2|198\.51\.100|203\.0\.113)\./.test(host)) return false;
    return true;
  }
  if (net.isIPv6(host)) {
    const full = expandIPv6(host);
    const mapped = /^0000:0000:0000:0000:0000:ffff:([0-9a-f]{2})([0-9a-f]{2}):([0-9a-f]{2})([0-9a-f]{2})$/.exec(full);
    if (mapped)
      return isPublicAddress(
        mapped
          .slice(1)
          .map((x) => parseInt(x, 16))
          .join('.'),
      );
    const first = parseInt(full.slice(0, 4), 16);
    if (full === '0000:0000:0000:0000:0000:0000:0000:0000' || full === '0000:0000:0000:0000:0000:0000:0000:0001') return false;
    if ((first & 0xfe00) === 0xfc00 || (first & 0xffc0) === 0xfe80 || (first & 0xff00) === 0xff00) return false;
    if (full.startsWith('2001:0db8:')) return false;
    if (first === 0x2001 && [0x10, 0x20].includes(parseInt(full.slice(5, 9), 16) & 0xfff0)) return false;
    return true;
  }
  return /^[a-z2-7]{56}\.onion$/i.test(host);
}

function expandIPv6(host: string): string {
  let h = host.toLowerCase();
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(h);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number);
    h = h.slice(0, v4.index) + ((a << 8) | b).toString(16) + ':' + ((c << 8) | d).toString(16);
  }
  const [l, r] = h.split('::');
  const left = l ? l.split(':') : [];
  const right = r !== undefined && r !== '' ? r.split(':') : [];
  const fill = h.includes('::') ? Array(8 - left.length - right.length).fill('0') : [];
  return [...left, ...fill, ...right].map((x) => x.padStart(4, '0')).join(':');
}

const key = (host: string, port: number) => `${host}|${port}`;

export class AddressBook {
  private readonly entries = new Map<string, BookEntry>();

  /** Loads `path` when given and present; a damaged file is reported and replaced, not fatal. */
  constructor(
    private readonly path: string | undefined,
    onDamaged: (why: string) => void = () => {},
  ) {
    if (!path || !existsSync(path)) return;
    try {
      const data = JSON.parse(readFileSync(path, 'utf8')) as { version?: number; peers?: unknown };
      if (data.version !== 1 || !Array.isArray(data.peers)) throw new Error('not an altnet address book (version 1)');
      for (const p of data.peers.slice(0, MAX_BOOK_ENTRIES) as BookEntry[]) {
        if (typeof p?.host !== 'string' || !Number.isInteger(p.port) || p.port < 1 || p.port > 65535) continue;
        this.entries.set(key(p.host, p.port), {
          host: p.host,
          port: p.port,
          ...(typeof p.banned === 'string' ? { banned: p.banned.slice(0, 200) } : {}),
          ...(typeof p.lastGood === 'number' ? { lastGood: p.lastGood } : {}),
        });
      }
    } catch (e) {
      onDamaged((e as Error).message);
    }
  }

  get size(): number {
    return this.entries.size;
  }

  all(): BookEntry[] {
    return [...this.entries.values()];
  }

  /** Adds an address heard of; returns whether it was new. Full: the oldest unbanned entry goes. */
  add(host: string, port: number): boolean {
    const k = key(host, port);
    if (this.entries.has(k)) return false;
    if (this.entries.size >= MAX_BOOK_ENTRIES) {
      const victim =
        [...this.entries.entries()].find(([, e]) => !e.banned && !e.lastGood) ?? [...this.entries.entries()].find(([, e]) => !e.banned);
      if (!victim) return false;
      this.entries.delete(victim[0]);
    }
    this.entries.set(k, { host, port });
    return true;
  }

  ban(host: string, port: number, why: string): void {
    const e = this.entries.get(key(host, port)) ?? { host, port };
    e.banned = why.slice(0, 200);
    this.entries.set(key(host, port), e);
  }

  good(host: string, port: number): void {
    const e = this.entries.get(key(host, port));
    if (e) e.lastGood = Date.now();
  }

  isBanned(host: string, port: number): boolean {
    return this.entries.get(key(host, port))?.banned !== undefined;
  }

  /**
   * Up to `n` unbanned addresses from netgroups not in `usedGroups` nor `exclude`d, one per
   * netgroup, in random order (addresses that worked before first).
   */
  pick(n: number, usedGroups: Set<string>, exclude: Set<string>, usable: (e: BookEntry) => boolean = () => true): BookEntry[] {
    const candidates = this.all().filter((e) => !e.banned && !exclude.has(key(e.host, e.port)) && usable(e));
    for (let i = candidates.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [candidates[i], candidates[j]] = [candidates[j], candidates[i]];
    }
    candidates.sort((a, b) => (b.lastGood ? 1 : 0) - (a.lastGood ? 1 : 0));
    const groups = new Set(usedGroups);
    const out: BookEntry[] = [];
    for (const c of candidates) {
      if (out.length >= n) break;
      const g = netgroup(c.host);
      if (groups.has(g)) continue;
      groups.add(g);
      out.push(c);
    }
    return out;
  }

  /** Saves atomically (temp file, fsync, rename); no-op without a path. */
  save(): void {
    if (!this.path) return;
    writeFileDurably(dirname(this.path), basename(this.path), JSON.stringify({ version: 1, peers: this.all() }, null, 1));
  }
}

export { key as bookKey };
