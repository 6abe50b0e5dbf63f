// In-process stand-ins for the two ends of a BIP324 proxy connection, for the proxy's fast
// tests and its bench: a v2 responder (a BIP324-speaking node) and a v1 client (reaching the
// proxy as SOCKS5, through the `socks` package, or as plain v1). Both record what they decode.
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { SocksClient } from 'socks';
import { NETWORKS } from '../../src/chain/networks.js';
import { encodeVersion, ipv4Mapped, type VersionMessage } from '../../src/node/messages.js';
import { V2Session } from '../../src/node/v2/session.js';
import { encodeV1Message, V1Decoder, type P2PMessage } from '../../src/node/wire.js';

export const MAGIC = NETWORKS.regtest.magic;

export function versionPayload(addrRecv: { ip?: Uint8Array; port?: number } = {}, userAgent = '/proxy-test:0.1/'): Uint8Array {
  const v: VersionMessage = {
    version: 70016,
    services: 9n,
    timestamp: BigInt(Math.floor(Date.now() / 1000)),
    addrRecv: { services: 0n, ip: addrRecv.ip ?? ipv4Mapped(127, 0, 0, 1), port: addrRecv.port ?? 0 },
    addrFrom: { services: 0n, ip: ipv4Mapped(0, 0, 0, 0), port: 0 },
    nonce: 42n,
    userAgent,
    startHeight: 0,
    relay: true,
  };
  return encodeVersion(v);
}

export { until } from '../helpers/wait.js';

/** A BIP324 responder that answers version with version + verack and records the rest. */
export class V2Peer {
  readonly received: P2PMessage[] = [];
  readonly sessions: V2Session[] = [];
  readonly sockets: Socket[] = [];
  receivedBytes = 0;
  onMessage: ((m: P2PMessage) => void) | undefined;
  private server: Server | undefined;
  port = 0;

  constructor(private readonly opts: { aead?: 'node' | 'noble'; record?: boolean; magic?: Uint8Array } = {}) {}

  async listen(): Promise<number> {
    this.server = createServer((sock) => {
      this.sockets.push(sock);
      sock.setNoDelay(true);
      const s = new V2Session({ magic: this.opts.magic ?? MAGIC, role: 'responder', aead: this.opts.aead ?? 'node', garbageLen: 0 });
      this.sessions.push(s);
      sock.on('error', () => {});
      sock.on('data', (chunk: Buffer) => {
        let r;
        try {
          r = s.receive(chunk);
        } catch {
          sock.destroy();
          return;
        }
        for (const b of r.send) sock.write(b);
        for (const m of r.messages) {
          this.receivedBytes += m.payload.length;
          if (this.opts.record !== false) this.received.push({ command: m.command, payload: Uint8Array.from(m.payload) });
          if (m.command === 'version') {
            sock.write(s.encodeMessage('version', versionPayload({}, '/v2peer/')));
            sock.write(s.encodeMessage('verack', new Uint8Array(0)));
          }
          this.onMessage?.(m);
        }
      });
    });
    await new Promise<void>((res) => this.server!.listen(0, '127.0.0.1', res));
    this.port = (this.server.address() as AddressInfo).port;
    return this.port;
  }

  /** Sends on the most recent connection. */
  send(command: string, payload: Uint8Array): boolean {
    const i = this.sessions.length - 1;
    return this.sockets[i].write(this.sessions[i].encodeMessage(command, payload));
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((res) => (this.server ? this.server.close(() => res()) : res()));
  }
}

/** A v1 client of the proxy. */
export class V1Client {
  readonly received: P2PMessage[] = [];
  receivedBytes = 0;
  closed = false;
  onMessage: ((m: P2PMessage) => void) | undefined;
  private readonly decoder: V1Decoder;

  /** Bytes read from the socket (with countOnly, the only thing recorded). */
  rawBytes = 0;

  private constructor(
    readonly socket: Socket,
    countOnly = false,
    readonly magic = MAGIC,
  ) {
    this.decoder = new V1Decoder(magic);
    socket.setNoDelay(true);
    socket.on('error', () => {});
    socket.on('close', () => (this.closed = true));
    socket.on('data', (chunk: Buffer) => {
      this.rawBytes += chunk.length;
      if (countOnly) return;
      for (const m of this.decoder.push(new Uint8Array(chunk))) {
        this.receivedBytes += m.payload.length;
        this.received.push(m);
        this.onMessage?.(m);
      }
    });
  }

  /** countOnly: do not decode what arrives (benches: the client's checksums are not the proxy's cost). */
  static async viaSocks(proxyPort: number, dest: { host: string; port: number }, countOnly = false, magic = MAGIC): Promise<V1Client> {
    const { socket } = await SocksClient.createConnection({
      proxy: { host: '127.0.0.1', port: proxyPort, type: 5 },
      command: 'connect',
      destination: dest,
      timeout: 10_000,
    });
    return new V1Client(socket, countOnly, magic);
  }

  static async plain(port: number): Promise<V1Client> {
    const s = connect(port, '127.0.0.1');
    await new Promise<void>((res, rej) => {
      s.once('connect', res);
      s.once('error', rej);
    });
    return new V1Client(s);
  }

  send(command: string, payload: Uint8Array): boolean {
    return this.socket.write(encodeV1Message(this.magic, { command, payload }));
  }

  close(): void {
    this.socket.destroy();
  }
}
