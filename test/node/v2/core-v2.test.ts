// End to end against Bitcoin Core 30.2: bitcoind (regtest, -v2transport=1) opens an outbound
// manual connection to a raw loopback socket server driven by our BIP324 responder session;
// the v2 handshake and the P2P version/verack exchange run in v2 packets, and Core reports the
// peer as transport v2 with the same session id.
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NETWORKS } from '../../../src/chain/networks.js';
import type { V2Message } from '../../../src/node/v2/messages.js';
import { detectTransport } from '../../../src/node/v2/detect.js';
import { V2Transport } from '../../../src/node/v2/transport.js';
import { toHex } from '../../../src/util/bytes.js';
import { BITCOIND_SHA256, BitcoindProcess } from '../../harness/bitcoind.js';

const MAGIC = NETWORKS.regtest.magic;
const USER_AGENT = '/altnet-v2-test:0.1.0/';

/** A minimal P2P version payload (protocol 70016, NODE_NETWORK | NODE_WITNESS). */
function versionPayload(): Uint8Array {
  const ua = new TextEncoder().encode(USER_AGENT);
  const b = Buffer.alloc(4 + 8 + 8 + 26 + 26 + 8 + 1 + ua.length + 4 + 1);
  let o = 0;
  o = b.writeInt32LE(70016, o);
  o = b.writeBigUInt64LE(9n, o);
  o = b.writeBigInt64LE(BigInt(Math.floor(Date.now() / 1000)), o);
  const addr = () => {
    o = b.writeBigUInt64LE(0n, o);
    b.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1], o);
    o += 16;
    o = b.writeUInt16BE(0, o);
  };
  addr();
  addr();
  o = b.writeBigUInt64LE(0x1234_5678_9abc_def0n, o);
  o = b.writeUInt8(ua.length, o);
  b.set(ua, o);
  o += ua.length;
  o = b.writeInt32LE(0, o);
  b.writeUInt8(0, o);
  return new Uint8Array(b);
}

describe('BIP324 v2 handshake with Bitcoin Core 30.2 (regtest, -v2transport=1)', () => {
  let server: Server;
  let node: BitcoindProcess | undefined;
  const sockets: Socket[] = [];
  const transports: V2Transport[] = [];
  const received: string[] = [];
  const errors: string[] = [];
  let sawV1 = false;

  beforeAll(async () => {
    server = createServer((sock) => {
      sockets.push(sock);
      let prefix = new Uint8Array(0);
      let transport: V2Transport | undefined;
      const send = (m: V2Message) => sock.write(transport!.encode(m));
      sock.on('error', () => {});
      sock.on('data', (chunk: Buffer) => {
        try {
          let data: Uint8Array = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length);
          if (!transport) {
            prefix = Buffer.concat([prefix, data]);
            const verdict = detectTransport(MAGIC, prefix);
            if (verdict === 'undecided') return;
            if (verdict === 'v1') {
              sawV1 = true;
              sock.destroy();
              return;
            }
            transport = new V2Transport({ magic: MAGIC, role: 'responder' });
            transports.push(transport);
            for (const b of transport.start()) sock.write(b);
            data = prefix;
          }
          const r = transport.receive(data);
          for (const b of r.send) sock.write(b);
          for (const m of r.messages) {
            received.push(m.command);
            if (m.command === 'version') {
              send({ command: 'version', payload: versionPayload() });
              send({ command: 'verack', payload: new Uint8Array(0) });
            } else if (m.command === 'ping') {
              send({ command: 'pong', payload: m.payload });
            }
          }
        } catch (err) {
          errors.push(err instanceof Error ? err.message : String(err));
          sock.destroy();
        }
      });
    });
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    node = new BitcoindProcess({ name: 'v2', args: [`-addnode=127.0.0.1:${port}`, '-v2transport=1'] });
    await node.start(); // checks the binary's sha256 against BITCOIND_SHA256 first
  });

  afterAll(async () => {
    await node?.stop();
    for (const s of sockets) s.destroy();
    await new Promise<void>((res) => (server ? server.close(() => res()) : res()));
  });

  it('runs the pinned bitcoind build', () => {
    expect(BITCOIND_SHA256).toBe('87fc011683f72ce1113add2d2c67085ac7acbba1266a538cccbadb08b6926785');
  });

  it('completes the v2 handshake and version/verack; Core reports transport v2 and our session id', async () => {
    const peer = await node!.waitFor(
      'our v2 peer with a finished version handshake in getpeerinfo',
      async () => {
        const peers = await node!.rpc<any[]>('getpeerinfo');
        return peers.find((p) => p.subver === USER_AGENT && p.transport_protocol_type === 'v2');
      },
      45_000,
    );
    expect(errors).toEqual([]);
    expect(sawV1).toBe(false);
    expect(peer.connection_type).toBe('manual');
    const ours = transports.find((t) => t.session.sessionId && toHex(t.session.sessionId) === peer.session_id);
    expect(ours).toBeDefined();
    expect(ours!.session.state).toBe('ready');
    expect(received).toContain('version');
    await node!.waitFor('verack from Core', async () => received.includes('verack'));
    // Core counts the bytes of v2 messages it got from us per message type.
    expect(peer.bytesrecv_per_msg.version).toBeGreaterThan(0);
  });

  it('connects out to Core as a v2 initiator (the outbound P2P link case)', async () => {
    const got: string[] = [];
    const sock = connect(node!.p2pPort, '127.0.0.1');
    sockets.push(sock);
    const t = new V2Transport({ magic: MAGIC, role: 'initiator' });
    const outErrors: string[] = [];
    sock.on('error', (e) => outErrors.push(e.message));
    sock.on('data', (chunk: Buffer) => {
      try {
        const r = t.receive(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
        for (const b of r.send) sock.write(b);
        for (const m of r.messages) {
          got.push(m.command);
          if (m.command === 'version') sock.write(t.encode({ command: 'verack', payload: new Uint8Array(0) }));
          if (m.command === 'ping') sock.write(t.encode({ command: 'pong', payload: m.payload }));
        }
      } catch (err) {
        outErrors.push(err instanceof Error ? err.message : String(err));
        sock.destroy();
      }
    });
    await new Promise<void>((res) => sock.once('connect', () => res()));
    for (const b of t.start()) sock.write(b);
    // Queued until the handshake is done, then flushed right after our version packet.
    sock.write(t.encode({ command: 'version', payload: versionPayload() }));
    const peer = await node!.waitFor('our outbound v2 connection in getpeerinfo', async () => {
      const peers = await node!.rpc<any[]>('getpeerinfo');
      return peers.find((p) => p.inbound && p.subver === USER_AGENT && p.transport_protocol_type === 'v2');
    });
    await node!.waitFor('version and verack from Core', async () => got.includes('version') && got.includes('verack'));
    expect(outErrors).toEqual([]);
    expect(peer.session_id).toBe(toHex(t.session.sessionId!));
    sock.destroy();
  });

  it('keeps the connection alive across a ping round trip in v2 packets', async () => {
    await node!.rpc('ping');
    await node!.waitFor('ping answered', async () => {
      const peers = await node!.rpc<any[]>('getpeerinfo');
      const p = peers.find((x) => x.subver === USER_AGENT && x.connection_type === 'manual');
      return p && p.pingtime !== undefined && p.transport_protocol_type === 'v2';
    });
    expect(received).toContain('ping');
    expect(errors).toEqual([]);
  });
});
