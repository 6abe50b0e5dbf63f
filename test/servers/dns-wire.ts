// The DNS wire format the loopback DNS servers of the tests share (RFC 1035 section 4.1): read
// the one question of a query, and build the answer to it (the question echoed, each record's
// name a pointer to it, section 4.1.4). Just enough for A and AAAA; no I/O.

/** DNS record types (RFC 1035 3.2.2, RFC 3596 2.1). */
export const TYPE_A = 1;
export const TYPE_AAAA = 28;
export const RCODE_NXDOMAIN = 3;

export interface Question {
  /** Lower-case, dot-joined labels. */
  name: string;
  type: number;
  /** Offset just past the question (QTYPE and QCLASS). */
  end: number;
}

/** The single question of a query; null for anything else (then the servers stay silent). */
export function readQuestion(msg: Buffer): Question | null {
  if (msg.length < 12 || msg.readUInt16BE(4) !== 1) return null;
  let o = 12;
  const labels: string[] = [];
  while (o < msg.length && msg[o] !== 0) {
    const len = msg[o];
    if (len > 63 || o + 1 + len > msg.length) return null;
    labels.push(msg.subarray(o + 1, o + 1 + len).toString('ascii'));
    o += 1 + len;
  }
  o += 1;
  if (o + 4 > msg.length) return null;
  return { name: labels.join('.').toLowerCase(), type: msg.readUInt16BE(o), end: o + 4 };
}

/** An authoritative answer to `query`: its question, then one record of the question's type per entry of `rdata`. */
export function encodeAnswer(query: Buffer, q: Question, rcode: number, rdata: Uint8Array[], ttl: number): Buffer {
  const out = Buffer.alloc(q.end + rdata.reduce((n, a) => n + 12 + a.length, 0));
  out.writeUInt16BE(query.readUInt16BE(0), 0); // ID
  out.writeUInt16BE(0x8000 | 0x0400 | (query.readUInt16BE(2) & 0x0100) | rcode, 2); // QR, AA, RD copied
  out.writeUInt16BE(1, 4);
  out.writeUInt16BE(rdata.length, 6);
  query.copy(out, 12, 12, q.end);
  let p = q.end;
  for (const a of rdata) {
    out.writeUInt16BE(0xc00c, p); // a pointer to the question's name
    out.writeUInt16BE(q.type, p + 2);
    out.writeUInt16BE(1, p + 4); // IN
    out.writeUInt32BE(ttl, p + 6);
    out.writeUInt16BE(a.length, p + 10);
    out.set(a, p + 12);
    p += 12 + a.length;
  }
  return out;
}
