// Electrum protocol transport: newline-delimited JSON-RPC 2.0 over TCP or TLS.
// Lines are bounded (a server cannot make us buffer without limit), every request has a
// deadline, and a server.ping keeps idle connections open.
import net from 'node:net';
import type tls from 'node:tls';
import { AltnetError, MalformedInputError } from '../../util/errors.js';
import { dialTcp, loadTls } from '../source/dial.js';
import type { HostPort } from '../../util/net.js';
import { realTimers, SourceUnavailableError, withTimeout, type Timers } from '../source/index.js';

export interface ElectrumClientOptions {
  host: string;
  port: number;
  tls: boolean;
  /** PEM certificate(s) to trust (self-signed servers). */
  ca?: string | Buffer;
  /** SHA-256 fingerprint (hex, colons allowed) the server certificate must have; replaces CA checks. */
  fingerprint?: string;
  /** TLS server name, when it differs from host. */
  servername?: string;
  timeoutMs?: number;
  /** SOCKS5 proxy to connect through (the proxy resolves the server's name). */
  proxy?: HostPort;
  /** Longest line accepted from the server, bytes. */
  maxLineBytes?: number;
  /** Interval between server.ping on an idle connection; 0 disables. */
  pingIntervalMs?: number;
  timers?: Timers;
  /** Client name sent in server.version. */
  clientName?: string;
}

/** The server answered a request with a JSON-RPC error object. */
export class ElectrumRpcError extends AltnetError {
  constructor(
    readonly method: string,
    readonly rpcCode: number | undefined,
    message: string,
  ) {
    super('electrum-rpc-error', `${method}: server error ${rpcCode ?? ''} ${message}`.trim());
  }
}

interface Pending {
  method: string;
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

/** Electrum protocol version this client speaks. */
export const PROTOCOL_VERSION = '1.4';

export class ElectrumClient {
  private socket: net.Socket | null = null;
  private connecting: Promise<void> | null = null;
  private buf: Buffer[] = [];
  private bufLen = 0;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly timers: Timers;
  private readonly timeoutMs: number;
  private readonly maxLine: number;
  private pingTimer: unknown = null;
  private closed = false;
  private notificationHandler: (method: string, params: unknown) => void = () => {};
  private errorHandler: (e: AltnetError) => void = () => {};
  private dropHandler: (e: Error) => void = () => {};
  serverSoftware = '';

  constructor(private readonly opts: ElectrumClientOptions) {
    this.timers = opts.timers ?? realTimers;
    this.timeoutMs = opts.timeoutMs ?? 15_000;
    // 2016 headers as hex in one answer is 322,560 characters; leave room for the JSON around it.
    this.maxLine = opts.maxLineBytes ?? 512 * 1024;
  }

  onNotification(h: (method: string, params: unknown) => void): void {
    this.notificationHandler = h;
  }

  /** Protocol faults seen outside a request (overlong line, garbage); counted by the owner. */
  onError(h: (e: AltnetError) => void): void {
    this.errorHandler = h;
  }

  /** An established connection was lost (not on close()). */
  onDrop(h: (e: Error) => void): void {
    this.dropHandler = h;
  }

  get connected(): boolean {
    return this.socket !== null && !this.connecting;
  }

  /** Connects (if not already) and negotiates the protocol version. */
  ensureConnected(): Promise<void> {
    if (this.closed) return Promise.reject(new SourceUnavailableError('link stopped'));
    if (this.socket && !this.connecting) return Promise.resolve();
    if (!this.connecting) {
      this.connecting = this.connect().then(
        () => {
          this.connecting = null;
        },
        (e: unknown) => {
          this.connecting = null;
          this.drop(e instanceof Error ? e : new Error(String(e)));
          throw e;
        },
      );
    }
    return this.connecting;
  }

  private async connect(): Promise<void> {
    const { host, port } = this.opts;
    let pendingSocket: net.Socket | undefined;
    let abandoned = false;
    const socket = await withTimeout(
      this.timers,
      this.timeoutMs,
      `connect ${host}:${port}`,
      () =>
        new Promise<net.Socket>((resolve, reject) => {
          const fail = (e: Error) => reject(new SourceUnavailableError(`cannot connect to ${host}:${port}: ${e.message}`, { cause: e }));
          // TCP first (through the SOCKS5 proxy when one is set: it resolves the name), then TLS over it.
          dialTcp({ host, port, proxy: this.opts.proxy, timeoutMs: this.timeoutMs }).then((raw) => {
            if (abandoned) return void raw.destroy();
            pendingSocket = raw;
            if (!this.opts.tls) return resolve(raw);
            const fp = this.opts.fingerprint?.replace(/:/g, '').toUpperCase();
            const tlsOpts: tls.ConnectionOptions = { socket: raw };
            if (this.opts.ca) tlsOpts.ca = this.opts.ca;
            const servername = this.opts.servername ?? (net.isIP(host) ? undefined : host);
            if (servername) tlsOpts.servername = servername;
            if (fp) {
              // A pinned fingerprint replaces CA validation (common for self-signed Electrum servers);
              // it is checked on secureConnect below.
              tlsOpts.rejectUnauthorized = false;
            }
            const s = loadTls().connect(tlsOpts);
            pendingSocket = s;
            s.once('secureConnect', () => {
              if (fp) {
                const cert = s.getPeerCertificate();
                if (!cert.fingerprint256 || cert.fingerprint256.replace(/:/g, '').toUpperCase() !== fp) {
                  s.destroy();
                  fail(new Error('certificate fingerprint does not match'));
                  return;
                }
              }
              resolve(s);
            });
            s.once('error', fail);
          }, fail);
        }),
      () => {
        abandoned = true;
        pendingSocket?.destroy();
      },
    );
    socket.removeAllListeners('error');
    socket.setNoDelay(true);
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (e) => this.drop(new SourceUnavailableError(`connection to ${host}:${port}: ${e.message}`)));
    socket.on('close', () => this.drop(new SourceUnavailableError(`connection to ${host}:${port} closed`)));
    const version = await this.rawRequest('server.version', [this.opts.clientName ?? 'altnet', PROTOCOL_VERSION]);
    if (!Array.isArray(version) || typeof version[0] !== 'string' || typeof version[1] !== 'string') {
      throw new MalformedInputError('electrum-bad-version', 'server.version: expected [software, protocol]');
    }
    if (version[1] !== PROTOCOL_VERSION) {
      throw new SourceUnavailableError(`server speaks protocol ${version[1]}, this client needs ${PROTOCOL_VERSION}`);
    }
    this.serverSoftware = version[0];
    this.schedulePing();
  }

  /** A request on an established (or establishing) connection; connects first when needed. */
  async request(method: string, params: unknown[]): Promise<unknown> {
    await this.ensureConnected();
    return this.rawRequest(method, params);
  }

  private rawRequest(method: string, params: unknown[]): Promise<unknown> {
    const socket = this.socket;
    if (!socket) return Promise.reject(new SourceUnavailableError('not connected'));
    const id = this.nextId++;
    return withTimeout(
      this.timers,
      this.timeoutMs,
      method,
      () =>
        new Promise<unknown>((resolve, reject) => {
          this.pending.set(id, { method, resolve, reject });
          socket.write(JSON.stringify({ jsonrpc: '2.0', id, method, params }) + '\n');
        }),
      () => {
        this.pending.delete(id);
        // A server that stalls one request cannot be trusted with the next on the same stream.
        this.drop(new SourceUnavailableError(`${method}: timed out`));
      },
    );
  }

  private schedulePing(): void {
    const every = this.opts.pingIntervalMs ?? 60_000;
    if (every <= 0 || this.closed) return;
    if (this.pingTimer !== null) this.timers.clearTimeout(this.pingTimer);
    this.pingTimer = this.timers.setTimeout(() => {
      this.pingTimer = null;
      if (!this.socket || this.closed) return;
      this.rawRequest('server.ping', []).then(
        () => this.schedulePing(),
        (e: unknown) => this.errorHandler(e instanceof AltnetError ? e : new SourceUnavailableError(String(e))),
      );
    }, every);
  }

  private onData(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) break;
      const piece = chunk.subarray(start, nl);
      if (this.bufLen + piece.length > this.maxLine) return this.overlong();
      const line = this.bufLen ? Buffer.concat([...this.buf, piece]).toString('utf8') : piece.toString('utf8');
      this.buf = [];
      this.bufLen = 0;
      start = nl + 1;
      this.onLine(line);
      if (!this.socket) return;
    }
    const rest = chunk.subarray(start);
    if (rest.length) {
      if (this.bufLen + rest.length > this.maxLine) return this.overlong();
      this.buf.push(rest);
      this.bufLen += rest.length;
    }
  }

  private overlong(): void {
    const e = new MalformedInputError('electrum-line-too-long', `server sent a line over ${this.maxLine} bytes`);
    this.errorHandler(e);
    this.drop(e);
  }

  private onLine(line: string): void {
    if (line.trim() === '') return;
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch {
      const e = new MalformedInputError('electrum-bad-json', `server sent a line that is not JSON: ${line.slice(0, 60)}`);
      this.errorHandler(e);
      this.drop(e);
      return;
    }
    if (typeof msg !== 'object' || msg === null) return;
    const m = msg as { id?: unknown; result?: unknown; error?: unknown; method?: unknown; params?: unknown };
    if (typeof m.id === 'number' && this.pending.has(m.id)) {
      const p = this.pending.get(m.id)!;
      this.pending.delete(m.id);
      if (m.error !== undefined && m.error !== null) {
        const err = m.error as { code?: unknown; message?: unknown };
        p.reject(
          new ElectrumRpcError(
            p.method,
            typeof err.code === 'number' ? err.code : undefined,
            typeof err.message === 'string' ? err.message.slice(0, 200) : JSON.stringify(m.error).slice(0, 200),
          ),
        );
      } else {
        p.resolve(m.result);
      }
      return;
    }
    if (typeof m.method === 'string' && m.id === undefined) {
      this.notificationHandler(m.method, m.params);
    }
  }

  /** Forgets the connection; pending requests fail; the next request reconnects. */
  private drop(e: Error): void {
    const s = this.socket;
    this.socket = null;
    this.buf = [];
    this.bufLen = 0;
    if (this.pingTimer !== null) {
      this.timers.clearTimeout(this.pingTimer);
      this.pingTimer = null;
    }
    if (s) {
      s.removeAllListeners('data');
      s.removeAllListeners('close');
      s.on('error', () => {});
      s.destroy();
    }
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
    if (s && !this.closed && !this.connecting) this.dropHandler(e);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.drop(new SourceUnavailableError('link stopped'));
  }
}
