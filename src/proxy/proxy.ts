// The BIP324 proxy: a loopback listener for software that only speaks the v1 P2P transport.
// Each accepted connection names its destination either by SOCKS5 CONNECT (first byte 0x05;
// Bitcoin Core's and btcd's -proxy=, wallets' proxy setting) or as plain v1 (first bytes a
// network magic): then the first `version` message's addr_recv says where to, unless a fixed
// `to` is configured. The proxy makes a BIP324 v2 connection to the destination (network from
// the client's v1 magic), and forwards every message both ways, v1 framing on the client side,
// v2 packets (BIP324 short ids where they exist) on the other. A destination that hangs up on
// our v2 key without a byte does not speak v2: the client is refused, or with allowV1 the
// connection is retried and forwarded as unencrypted v1.
//
// Framing and crypto are the node side's: V1Decoder/encodeV1Message (src/node/wire.ts) and
// V2Session (src/node/v2/); the outbound TCP (direct or through the upstream SOCKS5 proxy) is the
// internet sources' dialTcp (src/links/source/dial.ts). Memory per connection is bounded: the v1 decoder and the v2
// session hold at most one message each, messages waiting for the v2 handshake at most
// MAX_PENDING_BYTES, and a socket whose peer does not read is paused (backpressure) rather
// than buffered without limit.
//
// Error codes (each counted as `errors.<code>` and logged with the connection's close line):
//   proxy-unknown-magic       a plain client's first bytes are neither SOCKS5 nor a known magic
//   proxy-first-not-version   a plain client without `to` sent something before `version`
//   proxy-no-destination      its version's addr_recv is unspecified (use SOCKS5 or -to=)
//   proxy-loop                the destination is this proxy itself
//   proxy-connect-failed      the destination (or upstream SOCKS5 proxy) could not be reached
//   proxy-v2-refused          the destination does not speak v2 and allowV1 is off
//   proxy-handshake-timeout   no working session within handshakeTimeoutMs
//   proxy-pending-overflow    the client sent more than MAX_PENDING_BYTES before the handshake
//   socks5-*, p2p-*, bip324.* the SOCKS5 parser's, the v1 decoder's and the v2 session's codes
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { dialTcp } from '../links/source/dial.js';
import { networkByMagic, type NetworkParams } from '../chain/networks.js';
import { decodeVersion } from '../node/messages.js';
import type { AeadBackend } from '../node/v2/cipher.js';
import { V2Session } from '../node/v2/session.js';
import { encodeV1Message, V1Decoder, type P2PMessage } from '../node/wire.js';
import { concatBytes, toHex } from '../util/bytes.js';
import type { Counters } from '../util/counters.js';
import { AltnetError, ConfigError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { formatHostPort as fmt, isLoopback, type HostPort } from '../util/net.js';
import {
  encodeMethodChoice,
  encodeReply,
  ipv6ToString,
  METHOD_NO_AUTH,
  METHOD_NONE_ACCEPTABLE,
  parseGreeting,
  parseRequest,
  Reply,
  Socks5Error,
  SOCKS_VERSION,
} from './socks5.js';

export interface Bip324ProxyOptions {
  /** Where to listen; loopback only unless allowRemote. Port 0 picks a free one. */
  listen: HostPort;
  allowRemote?: boolean;
  /** Fixed destination for plain-v1 clients (instead of their version's addr_recv). */
  to?: HostPort;
  /** Upstream SOCKS5 proxy (e.g. Tor) for the outbound side; names are resolved by it. */
  upstream?: HostPort;
  /** Forward as unencrypted v1 when the destination does not speak v2 (default: refuse). */
  allowV1?: boolean;
  /** ChaCha20-Poly1305 implementation; 'node' (OpenSSL) by default, ~5x noble on blocks. */
  aead?: AeadBackend;
  /** Connections at once; more are refused (default 64). */
  maxConnections?: number;
  /** From accept until the v2 session carries messages (default 30 s). */
  handshakeTimeoutMs?: number;
  log: Logger;
  /** Scoped counters, e.g. `bip324proxy.`. */
  counters: Counters;
}

/** Client bytes allowed to wait for the v2 handshake (a version message and a few small ones). */
export const MAX_PENDING_BYTES = 1_000_000;
/** Past this many waiting bytes the client is not read until the handshake is done. */
const PAUSE_PENDING_BYTES = 64_000;
/** Bytes of a SOCKS5 greeting plus request: 2 + 255 + 4 + 1 + 255 + 2. */
const MAX_SOCKS_BYTES = 519;

export interface ProxyConnectionInfo {
  id: number;
  from: string;
  mode: 'socks5' | 'plain' | 'undecided';
  destination?: string;
  network?: string;
  transport?: 'v2' | 'v1';
  sessionId?: string;
}

export class Bip324Proxy {
  private server: Server | undefined;
  private readonly conns = new Set<ProxyConnection>();
  private nextId = 1;
  private boundPort = 0;

  constructor(private readonly opts: Bip324ProxyOptions) {
    if (!opts.allowRemote && !isLoopback(opts.listen.host)) {
      throw new ConfigError(
        'proxy-not-loopback',
        `refusing to run the BIP324 proxy on ${opts.listen.host}: anyone who reaches it can use it; listen on 127.0.0.1 or set allowremote=1`,
      );
    }
  }

  /** Resolves with the bound port. */
  async listen(): Promise<number> {
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.listen.port, this.opts.listen.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.opts.log.error('BIP324 proxy listener error', { error: err.message }));
    this.boundPort = (server.address() as AddressInfo).port;
    this.opts.log.info('BIP324 proxy listening (SOCKS5 and plain v1)', {
      address: `${this.opts.listen.host}:${this.boundPort}`,
      to: this.opts.to && `${this.opts.to.host}:${this.opts.to.port}`,
      upstream: this.opts.upstream && `${this.opts.upstream.host}:${this.opts.upstream.port}`,
      allowv1: this.opts.allowV1 ? 1 : 0,
    });
    return this.boundPort;
  }

  get port(): number {
    return this.boundPort;
  }

  /** The open connections, for status output and tests. */
  connections(): ProxyConnectionInfo[] {
    return [...this.conns].map((c) => c.info());
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const c of this.conns) c.close('proxy-shutdown', 'the proxy is shutting down');
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    const { counters, log } = this.opts;
    const max = this.opts.maxConnections ?? 64;
    if (this.conns.size >= max) {
      counters.inc('connections_refused');
      log.warn('refusing a proxy connection: too many', { from: `${socket.remoteAddress}:${socket.remotePort}`, max });
      socket.destroy();
      return;
    }
    counters.inc('connections');
    const conn = new ProxyConnection(this.nextId++, socket, this.opts, this.boundPort, () => {
      this.conns.delete(conn);
      counters.set('open', this.conns.size);
    });
    this.conns.add(conn);
    counters.set('open', this.conns.size);
  }
}

/** An IPv4 address in a 16-byte IPv4-mapped field, as text; IPv6 otherwise. */
function addrToHost(ip: Uint8Array): string {
  const mapped = ip.subarray(0, 10).every((b) => b === 0) && ip[10] === 0xff && ip[11] === 0xff;
  return mapped ? [...ip.subarray(12)].join('.') : ipv6ToString(ip);
}

function isUnspecified(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}

/** What to answer a SOCKS5 client when the destination could not be reached. */
function replyForError(err: unknown): number {
  const code = (err as NodeJS.ErrnoException)?.code;
  const msg = err instanceof Error ? err.message : '';
  if (code === 'ECONNREFUSED' || /ConnectionRefused/.test(msg)) return Reply.CONNECTION_REFUSED;
  if (code === 'EHOSTUNREACH' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || /HostUnreachable/.test(msg)) return Reply.HOST_UNREACHABLE;
  if (code === 'ENETUNREACH' || /NetworkUnreachable/.test(msg)) return Reply.NETWORK_UNREACHABLE;
  if (code === 'ETIMEDOUT' || /TTLExpired|timed out/i.test(msg)) return Reply.TTL_EXPIRED;
  return Reply.GENERAL_FAILURE;
}

type Phase = 'front' | 'connecting' | 'handshake' | 'open' | 'closed';

class ProxyConnection {
  private phase: Phase = 'front';
  private mode: ProxyConnectionInfo['mode'] = 'undecided';
  private front = new Uint8Array(0);
  private greeted = false;
  private network: NetworkParams | undefined;
  private decoder: V1Decoder | undefined;
  private destination: HostPort | undefined;
  private dest: Socket | undefined;
  private session: V2Session | undefined;
  private transport: 'v2' | 'v1' | undefined;
  /** Decoded client messages waiting for the v2 handshake. */
  private pending: P2PMessage[] = [];
  /** Raw client bytes of the v1 stream, kept until v2 works (replayed on a v1 fallback). */
  private raw: Uint8Array[] | null = [];
  private rawBytes = 0;
  private destHeardBack = false;
  private retriedV1 = false;
  private readonly timer: NodeJS.Timeout;
  private readonly started = Date.now();
  private readonly fromText: string;
  private readonly log: Logger;
  private readonly counters: Counters;
  private clientPaused = { backpressure: false, pending: false, connecting: false };

  constructor(
    readonly id: number,
    private readonly client: Socket,
    private readonly opts: Bip324ProxyOptions,
    private readonly ownPort: number,
    private readonly onClosed: () => void,
  ) {
    this.log = opts.log;
    this.counters = opts.counters;
    this.fromText = `${client.remoteAddress}:${client.remotePort}`;
    client.setNoDelay(true);
    client.on('data', (b: Buffer) => this.guard(() => this.onClientData(new Uint8Array(b.buffer, b.byteOffset, b.length))));
    client.on('error', (e) => this.close('client-error', e.message));
    client.on('close', () => this.close('client-closed', 'the client closed the connection'));
    this.timer = setTimeout(
      () => this.close('proxy-handshake-timeout', `no working connection after ${(opts.handshakeTimeoutMs ?? 30_000) / 1000} s`),
      opts.handshakeTimeoutMs ?? 30_000,
    );
  }

  info(): ProxyConnectionInfo {
    return {
      id: this.id,
      from: this.fromText,
      mode: this.mode,
      destination: this.destination && fmt(this.destination),
      network: this.network?.name,
      transport: this.transport,
      sessionId: this.session?.sessionId ? toHex(this.session.sessionId) : undefined,
    };
  }

  /** Runs a handler; any error closes the connection with its code. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      const code = err instanceof AltnetError ? err.code : 'proxy-internal';
      if (err instanceof Socks5Error && err.reply !== undefined && this.phase === 'front') this.client.write(encodeReply(err.reply));
      this.close(code, err instanceof Error ? err.message : String(err));
    }
  }

  // ------------------------------------------------------------------ client side

  private onClientData(chunk: Uint8Array): void {
    if (this.phase === 'closed') return;
    this.counters.inc('bytes_from_client', chunk.length);
    if (this.phase !== 'front') return this.onV1Bytes(chunk);
    if (this.mode === 'undecided') this.mode = chunk[0] === SOCKS_VERSION ? 'socks5' : 'plain';
    if (this.mode === 'plain') {
      this.phase = 'connecting'; // the destination is known once the version message is in
      this.counters.inc('plain');
      return this.onV1Bytes(chunk);
    }
    this.front = concatBytes(this.front, chunk);
    if (!this.greeted) {
      const g = parseGreeting(this.front);
      if (!g.done) return this.checkFrontSize();
      if (!g.value.methods.includes(METHOD_NO_AUTH)) {
        this.client.write(encodeMethodChoice(METHOD_NONE_ACCEPTABLE));
        throw new Socks5Error(
          'socks5-auth-required',
          'SOCKS5 client does not offer "no authentication"; this proxy has no passwords (it is loopback only)',
        );
      }
      this.client.write(encodeMethodChoice(METHOD_NO_AUTH));
      this.greeted = true;
      this.front = this.front.subarray(g.used);
    }
    const r = parseRequest(this.front);
    if (!r.done) return this.checkFrontSize();
    const early = this.front.subarray(r.used);
    this.front = new Uint8Array(0);
    this.counters.inc('socks5');
    try {
      this.setDestination({ host: r.value.host, port: r.value.port });
    } catch (err) {
      this.client.write(encodeReply(Reply.NOT_ALLOWED));
      throw err;
    }
    this.phase = 'connecting';
    // Core sends nothing until our reply; a client that does gets its bytes kept in order.
    if (early.length) this.onV1Bytes(early);
    this.connectDestination();
  }

  private checkFrontSize(): void {
    if (this.front.length > MAX_SOCKS_BYTES) throw new Socks5Error('socks5-too-long', 'SOCKS5 handshake longer than the protocol allows');
  }

  /** Client bytes after the front end: v1 messages. */
  private onV1Bytes(bytes: Uint8Array): void {
    if (this.transport === 'v1') return this.forward(this.client, this.dest!, bytes);
    if (this.raw) {
      this.raw.push(Uint8Array.from(bytes));
      this.rawBytes += bytes.length;
    }
    if (!this.decoder) {
      // The first 4 bytes choose the network; they may arrive split.
      const head = this.raw ? joinBytes(this.raw, 4) : bytes;
      if (head.length < 4) return;
      const net = networkByMagic(head);
      if (!net) {
        throw new AltnetError(
          'proxy-unknown-magic',
          `the client's first bytes (${toHex(head.subarray(0, 4))}) are neither SOCKS5 nor the magic of main, testnet4, signet or regtest`,
        );
      }
      this.network = net;
      this.decoder = new V1Decoder(net.magic);
      bytes = joinBytes(this.raw!, this.rawBytes);
      this.maybeStartV2();
    }
    for (const m of this.decoder.push(bytes)) this.onClientMessage(m);
    if (this.raw) {
      // Until the session is up, everything the client sent is kept (for a v1 fallback).
      if (this.rawBytes > MAX_PENDING_BYTES) {
        throw new AltnetError('proxy-pending-overflow', `the client sent over ${MAX_PENDING_BYTES} bytes before the v2 handshake finished`);
      }
      if (this.rawBytes > PAUSE_PENDING_BYTES) this.pauseClient('pending');
    }
  }

  private onClientMessage(m: P2PMessage): void {
    this.counters.inc('messages_to_dest');
    if (!this.destination) {
      if (m.command !== 'version') {
        throw new AltnetError('proxy-first-not-version', `a plain v1 client must open with version, got ${m.command}`);
      }
      this.setDestination(this.opts.to ?? this.fromVersion(m.payload));
      this.connectDestination();
    }
    if (this.session?.canSend && this.transport === 'v2') return this.writeDest(this.session.encodeMessage(m.command, m.payload));
    this.pending.push(m); // bounded by the raw bytes check in onV1Bytes
  }

  private fromVersion(payload: Uint8Array): HostPort {
    const v = decodeVersion(payload);
    const host = addrToHost(v.addrRecv.ip);
    if (isUnspecified(host) || v.addrRecv.port === 0) {
      throw new AltnetError(
        'proxy-no-destination',
        `the client's version message names no destination (addr_recv ${host}:${v.addrRecv.port}); connect through SOCKS5 or start the proxy with -to=host:port`,
      );
    }
    return { host, port: v.addrRecv.port };
  }

  private setDestination(d: HostPort): void {
    const own = this.opts.listen;
    const sameHost = d.host === own.host || (isLoopback(d.host) && isLoopback(own.host)) || isUnspecified(own.host);
    if (sameHost && d.port === this.ownPort) {
      throw new AltnetError(
        'proxy-loop',
        `the destination ${fmt(d)} is this proxy itself (a plain v1 client puts the address it dialled in addr_recv); use SOCKS5 or -to=host:port`,
      );
    }
    this.destination = d;
  }

  // ------------------------------------------------------------------ destination side

  private connectDestination(): void {
    const d = this.destination!;
    this.pauseClient('connecting');
    this.openSocket(d).then(
      (sock) =>
        this.guard(() => {
          if (this.phase === 'closed') return void sock.destroy();
          this.attachDest(sock);
          if (this.mode === 'socks5' && !this.retriedV1) this.client.write(encodeReply(Reply.SUCCEEDED));
          this.resumeClient('connecting');
          if (this.retriedV1) {
            // Replay what the client sent, then pass bytes through unchanged.
            this.transport = 'v1';
            this.phase = 'open';
            clearTimeout(this.timer);
            const replay = this.raw ? joinBytes(this.raw, this.rawBytes) : new Uint8Array(0);
            this.raw = null;
            this.pending = [];
            this.resumeClient('pending');
            if (replay.length) this.writeDest(replay);
            this.log.warn('destination does not speak v2: forwarding unencrypted v1 (allowv1=1)', this.fields());
          } else {
            this.phase = 'handshake';
            this.maybeStartV2();
          }
        }),
      (err: unknown) => {
        if (this.phase === 'closed') return;
        if (this.mode === 'socks5' && !this.retriedV1) this.client.write(encodeReply(replyForError(err)));
        // dialTcp's message names the upstream SOCKS5 proxy when there is one.
        this.close('proxy-connect-failed', `cannot reach ${fmt(d)}: ${err instanceof Error ? err.message : String(err)}`);
      },
    );
  }

  /** The destination socket: directly, or through the upstream SOCKS5 proxy (the sources' one dialler). */
  private openSocket(d: HostPort): Promise<Socket> {
    return dialTcp({ host: d.host, port: d.port, proxy: this.opts.upstream, timeoutMs: this.opts.handshakeTimeoutMs ?? 30_000 });
  }

  private attachDest(sock: Socket): void {
    this.dest = sock;
    sock.setNoDelay(true);
    // Events of a socket we already replaced (v1 retry) or dropped are ignored.
    sock.on('error', (e) => sock === this.dest && this.onDestGone(e.message));
    sock.on('close', () => sock === this.dest && this.onDestGone('the destination closed the connection'));
    sock.on(
      'data',
      (b: Buffer) => sock === this.dest && this.guard(() => this.onDestData(new Uint8Array(b.buffer, b.byteOffset, b.length))),
    );
  }

  /** Needs both the destination socket and the network (from the client's magic). */
  private maybeStartV2(): void {
    if (this.phase !== 'handshake' || this.session || !this.network || !this.dest) return;
    this.session = new V2Session({
      magic: this.network.magic,
      role: 'initiator',
      aead: this.opts.aead ?? 'node',
      counters: this.counters.scoped('v2.'),
    });
    this.dest.write(this.session.start());
  }

  private onDestData(chunk: Uint8Array): void {
    if (this.phase === 'closed') return;
    this.counters.inc('bytes_from_dest', chunk.length);
    this.destHeardBack = true;
    if (this.transport === 'v1') return this.forward(this.dest!, this.client, chunk);
    if (!this.session)
      throw new AltnetError('proxy-dest-spoke-first', 'the destination sent bytes before our v2 key; it is not a BIP324 responder');
    const r = this.session.receive(chunk);
    for (const b of r.send) this.writeDest(b);
    if (this.phase === 'handshake' && this.session.canSend) this.onSessionUp();
    for (const m of r.messages) {
      this.counters.inc('messages_to_client');
      this.forward(this.dest!, this.client, encodeV1Message(this.network!.magic, m));
    }
  }

  private onSessionUp(): void {
    const s = this.session!;
    this.phase = 'open';
    this.transport = 'v2';
    clearTimeout(this.timer);
    this.raw = null;
    this.rawBytes = 0;
    this.counters.inc('v2_sessions');
    this.log.info('BIP324 session up', { ...this.fields(), session: toHex(s.sessionId!).slice(0, 16) });
    for (const m of this.pending) this.writeDest(s.encodeMessage(m.command, m.payload));
    this.pending = [];
    this.resumeClient('pending');
  }

  private onDestGone(why: string): void {
    if (this.phase === 'closed') return;
    if (this.phase === 'handshake' && !this.destHeardBack && !this.retriedV1) {
      // BIP324: a v1-only peer drops the connection on our key without answering.
      this.dest?.destroy();
      this.dest = undefined;
      if (this.opts.allowV1 && this.raw) {
        this.retriedV1 = true;
        this.session = undefined;
        this.counters.inc('v1_fallbacks');
        this.phase = 'connecting';
        return this.connectDestination();
      }
      return this.close(
        'proxy-v2-refused',
        `${fmt(this.destination!)} does not speak BIP324 v2 (it closed on our key); refusing (allowv1=1 would forward unencrypted v1)`,
      );
    }
    this.close(this.phase === 'open' ? 'dest-closed' : 'dest-closed-in-handshake', why);
  }

  // ------------------------------------------------------------------ plumbing

  private writeDest(bytes: Uint8Array): void {
    this.forward(this.client, this.dest!, bytes);
  }

  /** Writes to `to`; if its buffer is full, stops reading `from` until it drains. */
  private forward(from: Socket, to: Socket, bytes: Uint8Array): void {
    if (to.write(bytes)) return;
    if (from === this.client) {
      if (this.clientPaused.backpressure) return;
      this.pauseClient('backpressure');
      to.once('drain', () => this.resumeClient('backpressure'));
    } else if (!from.isPaused()) {
      from.pause();
      this.counters.inc('backpressure_pauses');
      to.once('drain', () => from.resume());
    }
  }

  private pauseClient(why: keyof ProxyConnection['clientPaused']): void {
    if (why === 'backpressure') this.counters.inc('backpressure_pauses');
    this.clientPaused[why] = true;
    this.client.pause();
  }

  private resumeClient(why: keyof ProxyConnection['clientPaused']): void {
    this.clientPaused[why] = false;
    const p = this.clientPaused;
    if (!p.backpressure && !p.pending && !p.connecting && this.phase !== 'closed') this.client.resume();
  }

  private fields(): Record<string, string | number | undefined> {
    return {
      conn: this.id,
      from: this.fromText,
      mode: this.mode,
      to: this.destination && fmt(this.destination),
      network: this.network?.name,
      transport: this.transport,
    };
  }

  close(code: string, why: string): void {
    if (this.phase === 'closed') return;
    const wasOpen = this.phase === 'open';
    this.phase = 'closed';
    clearTimeout(this.timer);
    const normal = code === 'client-closed' || code === 'dest-closed' || code === 'proxy-shutdown';
    if (!normal) this.counters.inc(`errors.${code}`);
    const fields = { ...this.fields(), reason: code, detail: why, seconds: Math.round((Date.now() - this.started) / 1000) };
    if (normal && wasOpen) this.log.info('proxy connection closed', fields);
    else this.log.warn('proxy connection failed', fields);
    // end() lets what is already queued reach each side before the socket goes.
    this.client.end();
    this.dest?.end();
    setTimeout(() => {
      this.client.destroy();
      this.dest?.destroy();
    }, 2000).unref();
    this.pending = [];
    this.raw = null;
    this.onClosed();
  }
}

/** The first `n` bytes of a list of chunks as one array. */
function joinBytes(chunks: Uint8Array[], n: number): Uint8Array {
  const out = new Uint8Array(n);
  let o = 0;
  for (const c of chunks) {
    if (o >= n) break;
    const k = Math.min(c.length, n - o);
    out.set(c.subarray(0, k), o);
    o += k;
  }
  return o === n ? out : out.subarray(0, o);
}
