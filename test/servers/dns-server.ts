// A small authoritative DNS server over UDP on loopback that serves block headers the way
// bitcoinheaders.net documents them (both the older v0 and the newer v2 name/format), with just
// enough DNS wire format for AAAA answers. Records come back shuffled, as real resolvers do.
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { breakPow, servedChain } from './chain.js';

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
  const lieAt = opts.lieAt ?? chain.first + 10;
  const served = chain.headers.slice();
  if (opts.lie === 'bad-pow') served[lieAt - chain.first] = breakPow(served[lieAt - chain.first]);
  if (opts.lie === 'disconnected') served[lieAt - chain.first] = served[lieAt - chain.first + 1];
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
    if (msg.length < 12) return;
    const qd = msg.readUInt16BE(4);
    if (qd !== 1) return;
    // Question name: labels up to the zero byte.
    let o = 12;
    const labels: string[] = [];
    while (o < msg.length && msg[o] !== 0) {
      const len = msg[o];
      if (len > 63 || o + 1 + len > msg.length) return;
      labels.push(msg.subarray(o + 1, o + 1 + len).toString('ascii'));
      o += 1 + len;
    }
    o += 1;
    if (o + 4 > msg.length) return;
    const qtype = msg.readUInt16BE(o);
    const questionEnd = o + 4;
    const name = labels.join('.').toLowerCase();
    state.queries.push(name);
    for (const w of waiters.splice(0)) w(name);
    if (opts.stall) return;
    const addrs = qtype === 28 ? answerFor(name) : null;
    const rcode = addrs ? 0 : 3; // NXDOMAIN when we have no such name
    const answers = addrs ? shuffle(addrs) : [];
    const out = Buffer.alloc(questionEnd + answers.length * 28);
    out.writeUInt16BE(msg.readUInt16BE(0), 0);
    out.writeUInt16BE(0x8000 | 0x0400 | (msg.readUInt16BE(2) & 0x0100) | rcode, 2);
    out.writeUInt16BE(1, 4);
    out.writeUInt16BE(answers.length, 6);
    out.writeUInt16BE(0, 8);
    out.writeUInt16BE(0, 10);
    msg.copy(out, 12, 12, questionEnd);
    let p = questionEnd;
    for (const a of answers) {
      out.writeUInt16BE(0xc00c, p); // pointer to the question name
      out.writeUInt16BE(28, p + 2);
      out.writeUInt16BE(1, p + 4);
      out.writeUInt32BE(604800, p + 6);
      out.writeUInt16BE(16, p + 10);
      out.set(a, p + 12);
      p += 28;
    }
    socket.send(out, rinfo.port, rinfo.address);
  });

  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  state.port = (socket.address() as AddressInfo).port;
  return state;
}
