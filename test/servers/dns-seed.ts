// A small DNS seed on loopback (UDP): answers A and AAAA questions for its names with the
// addresses the test gives, as Bitcoin DNS seeds do (RFC 1035 section 4.1 message format;
// NXDOMAIN for other names). Counts the questions it heard.
import dgram from 'node:dgram';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

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
    if (msg.length < 12 || msg.readUInt16BE(4) !== 1) return;
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
    state.questions.push({ name, type: qtype });
    const known = records[name];
    const want = qtype === 1 ? 4 : qtype === 28 ? 16 : 0;
    const answers = (known ?? []).map(ipBytes).filter((b) => b.length === want);
    const rcode = known ? 0 : 3;
    const out = Buffer.alloc(questionEnd + answers.reduce((n, a) => n + 12 + a.length, 0));
    out.writeUInt16BE(msg.readUInt16BE(0), 0);
    out.writeUInt16BE(0x8000 | 0x0400 | (msg.readUInt16BE(2) & 0x0100) | rcode, 2);
    out.writeUInt16BE(1, 4);
    out.writeUInt16BE(answers.length, 6);
    msg.copy(out, 12, 12, questionEnd);
    let p = questionEnd;
    for (const a of answers) {
      out.writeUInt16BE(0xc00c, p); // the question's name
      out.writeUInt16BE(qtype, p + 2);
      out.writeUInt16BE(1, p + 4); // IN
      out.writeUInt32BE(3600, p + 6);
      out.writeUInt16BE(a.length, p + 10);
      a.copy(out, p + 12);
      p += 12 + a.length;
    }
    socket.send(out, rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  state.port = (socket.address() as AddressInfo).port;
  return state;
}
