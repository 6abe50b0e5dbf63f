// A minimal JSON-RPC client for the user's own Bitcoin Core (`noderpc=`, `noderpccookie=`):
// loopback only (checked by the config), cookie authentication read at each call (the cookie
// changes when the node restarts), a deadline on every call. Used to tell the node's own
// connection to altnet from other local processes dialling the same port, and by the rescue
// (gateway/rescue.ts) for the node's active tip and to submit the blocks Bitcoin Core ignores
// when they arrive unrequested over P2P.
import { readFileSync } from 'node:fs';
import { AltnetError } from '../util/errors.js';
import { parseHostPort } from '../util/net.js';

export interface NodeRpcOptions {
  host: string;
  port: number;
  /** The node's `.cookie` file (`user:password`); without it no Authorization is sent. */
  cookieFile?: string;
  /** rpcuser/rpcpassword instead of a cookie (tests, nodes configured that way). */
  user?: string;
  password?: string;
  timeoutMs?: number;
}

export class NodeRpcError extends AltnetError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('node-rpc-failed', message, options);
  }
}

export class NodeRpc {
  constructor(private readonly opts: NodeRpcOptions) {}

  private auth(): string | undefined {
    const file = this.opts.cookieFile;
    if (!file) {
      if (this.opts.user === undefined) return undefined;
      return 'Basic ' + Buffer.from(`${this.opts.user}:${this.opts.password ?? ''}`).toString('base64');
    }
    let cookie: string;
    try {
      cookie = readFileSync(file, 'utf8').trim();
    } catch (err) {
      throw new NodeRpcError(
        `cannot read the node's RPC cookie ${file} (${(err as Error).message}); check noderpccookie= and that altnet may read it`,
      );
    }
    return 'Basic ' + Buffer.from(cookie).toString('base64');
  }

  async call<T = unknown>(method: string, ...params: unknown[]): Promise<T> {
    const { host, port } = this.opts;
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/`;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    const auth = this.auth();
    if (auth) headers.authorization = auth;
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers,
        body: JSON.stringify({ jsonrpc: '1.0', id: 'altnet', method, params }),
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 5000),
      });
    } catch (err) {
      throw new NodeRpcError(`node RPC at ${host}:${port} unreachable (${(err as Error).message}); check noderpc=`, { cause: err });
    }
    if (res.status === 401 || res.status === 403) {
      throw new NodeRpcError(`node RPC at ${host}:${port} refused our credentials (HTTP ${res.status}); check noderpccookie=`);
    }
    const text = await res.text();
    let body: { result?: T; error?: { message?: string } | null };
    try {
      body = JSON.parse(text);
    } catch {
      throw new NodeRpcError(`node RPC at ${host}:${port} answered HTTP ${res.status} with something that is not JSON`);
    }
    if (body.error) throw new NodeRpcError(`node RPC ${method}: ${body.error.message ?? 'error'}`);
    return body.result as T;
  }

  /** The node's active tip hash (display hex). */
  bestBlockHash(): Promise<string> {
    return this.call<string>('getbestblockhash');
  }

  /**
   * Hands a block to the node; resolves with Core's verdict: null when valid, 'duplicate',
   * 'inconclusive' (stored, not on the active chain yet), or a rejection reason.
   */
  submitBlock(raw: Uint8Array): Promise<string | null> {
    return this.call<string | null>('submitblock', Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('hex'));
  }
}

/** The port of `host:port` / `[v6]:port`; undefined when it is not one. */
function portOf(addr: unknown): number | undefined {
  if (typeof addr !== 'string') return undefined;
  try {
    return parseHostPort(addr).port;
  } catch {
    return undefined;
  }
}

/**
 * The local endpoints (`addrbind`) of the node's outbound connections to `listenPort`: the
 * node dialled `addr` (our listen address), from `addrbind` (what we see as the peer's address).
 * Only the node's own RPC can say this, so no local process can pose as the node.
 */
export async function nodeConnectionsTo(rpc: NodeRpc, listenPort: number): Promise<string[]> {
  const peers = await rpc.call<Array<Record<string, unknown>>>('getpeerinfo');
  if (!Array.isArray(peers)) throw new NodeRpcError('node RPC getpeerinfo did not return a list');
  return peers
    .filter((p) => p.inbound === false && portOf(p.addr) === listenPort && typeof p.addrbind === 'string')
    .map((p) => p.addrbind as string);
}
