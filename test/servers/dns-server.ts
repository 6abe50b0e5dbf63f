// A small authoritative DNS server over UDP on loopback that serves block headers the way
// bitcoinheaders.net documents them (both the older v0 and the newer v2 name/format), with just
// AAAA answers in the DNS wire format of dns-wire.ts. Records come back shuffled, as real resolvers do.
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { servedChain, toldChain } from './chain.js';
import { encodeAnswer, RCODE_NXDOMAIN, readQuestion, TYPE_AAAA } from './dns-wire.js';

export type DnsLie = 'bad-pow' | 'disconnected' | 'bad-version';

export interface DnsServerOptions {
  domain?: string;
  lie?: DnsLie;
  lieAt?: number;
  stall?: boolean;
  tipHeight?: number;
}

export interface DnsServer {
  port: number;
  domain: string;
  queries: string[];
  tipHeight: number;
  nextQuery(): Promise<string>;
  close(): Promise<void>;
}

/** v0: 2001: prefix, order nibble, 27 nibbles of (version 0 ‖ header) per address, six addresses. */
export function encodeV0(header: Uint8Array, version = 0): Uint8Array[] {
  const data = new Uint8Array(81);
  data[0] = version;
  data.set(header, 1);
  const nib = (i: number) => (i % 2 === 0 ? data[i >> 1] >> 4 : data[i >> 1] & 15);
  const out: Uint8Array[] = [];
  for (let a = 0; a < 6; a++) {
    const nibbles = [2, 0, 0, 1, a];
    for (let k = 0; k < 27; k++) nibbles.push(nib(27 * a + k));
    const addr = new Uint8Array(16);
    for (let i = 0; i < 32; i++) addr[i >> 1] |= i % 2 === 0 ? nibbles[i] << 4 : nibbles[i];
    out.push(addr);
  }
  return out;
}

/** v2: arbitrary prefix byte, order byte, 14 bytes of (version 1 ‖ header ‖ zero padding) per address. */
export function encodeV2(header: Uint8Array, version = 1, prefix = 0x2a): Uint8Array[] {
  const n = Math.ceil(81 / 14);
  const data = new Uint8Array(n * 14);
  data[0] = version;
  data.set(header, 1);
  const out: Uint8Array[] = [];
  for (let a = 0; a < n; a++) {
    const addr = new Uint8Array(16);
    addr[0] = prefix;
    addr[1] = a;
    addr.set(data.subarray(14 * a, 14 * a + 14), 2);
    out.push(addr);
  }
  return out;
}

function shuffle<T>(xs: T[]): T[] {
  const a = xs.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

export async function startDnsServer(opts: DnsServerOptions = {}): Promise<DnsServer> {
  const chain = servedChain();
  const domain = opts.domain ?? 'bitcoinheaders.test';
  const { served, lieAt } = toldChain(opts.lie, opts.lieAt);
  const waiters: Array<(q: string) => void> = [];
  const socket = dgram.createSocket('udp4');

  const state: DnsServer = {
    port: 0,
    domain,
    queries: [],
    tipHeight: opts.tipHeight ?? chain.last,
    nextQuery: () => new Promise((r) => waiters.push(r)),
    close: () => new Promise<void>((r) => socket.close(() => r())),
  };

  const answerFor = (name: string): Uint8Array[] | null => {
    const suffix = '.' + domain;
    if (!name.endsWith(suffix)) return null;
    const m = /^(v2\.)?(\d+)\.(\d+)$/.exec(name.slice(0, -suffix.length));
    if (!m) return null;
    const height = Number(m[2]);
    if (Number(m[3]) !== Math.floor(height / 10000)) return null;
    if (height < chain.first || height > state.tipHeight) return null;
    const header = served[height - chain.first];
    const badVersion = opts.lie === 'bad-version' && height === lieAt;
    if (m[1]) return encodeV2(header, badVersion ? 7 : 1);
    return encodeV0(header, badVersion ? 7 : 0);
  };

  socket.on('message', (msg, rinfo) => {
    const q = readQuestion(msg);
    if (!q) return;
    state.queries.push(q.name);
    for (const w of waiters.splice(0)) w(q.name);
    if (opts.stall) return;
    const addrs = q.type === TYPE_AAAA ? answerFor(q.name) : null;
    const out = encodeAnswer(msg, q, addrs ? 0 : RCODE_NXDOMAIN, addrs ? shuffle(addrs) : [], 604800);
    socket.send(out, rinfo.port, rinfo.address);
  });

  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  state.port = (socket.address() as AddressInfo).port;
  return state;
}
