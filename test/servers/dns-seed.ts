// A small DNS seed on loopback (UDP): answers A and AAAA questions for its names with the
// addresses the test gives, as Bitcoin DNS seeds do (RFC 1035 section 4.1 message format;
// NXDOMAIN for other names; the wire format is dns-wire.ts). Counts the questions it heard.
import dgram from 'node:dgram';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { encodeAnswer, RCODE_NXDOMAIN, readQuestion, TYPE_A, TYPE_AAAA } from './dns-wire.js';

export interface DnsSeed {
  port: number;
  questions: Array<{ name: string; type: number }>;
  close(): Promise<void>;
}

function ipBytes(ip: string): Buffer {
  if (net.isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  const [l, r] = ip.split('::');
  const left = l ? l.split(':') : [];
  const right = r ? r.split(':') : [];
  const groups = [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), 2 * i));
  return b;
}

export async function startDnsSeed(records: Record<string, string[]>): Promise<DnsSeed> {
  const socket = dgram.createSocket('udp4');
  const state: DnsSeed = {
    port: 0,
    questions: [],
    close: () => new Promise<void>((r) => socket.close(() => r())),
  };
  socket.on('message', (msg, rinfo) => {
    const q = readQuestion(msg);
    if (!q) return;
    state.questions.push({ name: q.name, type: q.type });
    const known = records[q.name];
    const want = q.type === TYPE_A ? 4 : q.type === TYPE_AAAA ? 16 : 0;
    const answers = (known ?? []).map(ipBytes).filter((b) => b.length === want);
    const out = encodeAnswer(msg, q, known ? 0 : RCODE_NXDOMAIN, answers, 3600);
    socket.send(out, rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  state.port = (socket.address() as AddressInfo).port;
  return state;
}
