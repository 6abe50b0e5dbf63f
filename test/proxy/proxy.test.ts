// The BIP324 proxy in one process: v1 clients (SOCKS5 through the `socks` package, and plain
// v1) reach an in-process BIP324 responder; every message arrives intact both ways, large
// blocks included; v1-only destinations are refused or, with allowV1, served as v1; bad
// input and loops get their error code; the outbound side goes through a real upstream SOCKS5
// proxy (Debian's microsocks) when one is set. The live Bitcoin Core tests are core-proxy.test.ts.
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { NETWORKS } from '../../src/chain/networks.js';
import { ipv4Mapped } from '../../src/node/messages.js';
import { Bip324Proxy, type Bip324ProxyOptions } from '../../src/proxy/proxy.js';
import { Counters } from '../../src/util/counters.js';
import { ConfigError } from '../../src/util/errors.js';
import { memoryLogger } from '../../src/util/log.js';
import { freePort } from '../harness/bitcoind.js';
import { startMicrosocks } from '../servers/microsocks.js';
import { until, V1Client, V2Peer, versionPayload } from './peers.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startProxy(extra: Partial<Bip324ProxyOptions> = {}) {
  const counters = new Counters();
  const log = memoryLogger();
  const proxy = new Bip324Proxy({ listen: { host: '127.0.0.1', port: 0 }, log, counters, handshakeTimeoutMs: 5000, ...extra });
  const port = await proxy.listen();
  cleanups.push(() => proxy.close());
  return { proxy, port, counters, log };
}

async function startPeer(): Promise<V2Peer> {
  const peer = new V2Peer();
  await peer.listen();
  cleanups.push(() => peer.close());
  return peer;
}

/** A v1-only node as seen from the wire: reads, and hangs up on anything but a v1 magic. */
async function startV1Only(): Promise<{ port: number; got: string[] }> {
  const got: string[] = [];
  const sockets: Socket[] = [];
  const server: Server = createServer((s) => {
    sockets.push(s);
    s.on('error', () => {});
    s.once('data', (b: Buffer) => {
      if (b.readUInt32BE(0) !== 0xfabfb5da) return void s.destroy();
      got.push(b.subarray(4, 11).toString('latin1'));
      s.write(b); // echo the version back: enough to see bytes pass unchanged
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return { port: (server.address() as AddressInfo).port, got };
}

const rnd = (n: number) => {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 2654435761) >>> 24;
  return b;
};

describe('BIP324 proxy, SOCKS5 front end', () => {
  it('forwards version/verack and large messages both ways over a v2 session', async () => {
    const peer = await startPeer();
    const { proxy, port, counters } = await startProxy();
    const client = await V1Client.viaSocks(port, { host: '127.0.0.1', port: peer.port });
    cleanups.push(() => client.close());
    client.send('version', versionPayload());
    await until('version and verack from the v2 peer', () => client.received.some((m) => m.command === 'verack'));
    expect(client.received.map((m) => m.command)).toEqual(['version', 'verack']);
    expect(peer.received[0].command).toBe('version');
    expect(proxy.connections()[0]).toMatchObject({ mode: 'socks5', network: 'regtest', transport: 'v2' });
    expect(proxy.connections()[0].sessionId).toMatch(/^[0-9a-f]{64}$/);

    // A 3.9 MB block each way, a message with a BIP324 short id and one without (sendaddrv2).
    const block = rnd(3_900_000);
    client.send('block', block);
    client.send('sendaddrv2', new Uint8Array(0));
    peer.send('block', block);
    peer.send('wtxidrelay', new Uint8Array(0));
    await until('the blocks', () => peer.received.length >= 3 && client.received.length >= 4);
    expect(peer.received.slice(1).map((m) => m.command)).toEqual(['block', 'sendaddrv2']);
    expect(Buffer.compare(peer.received[1].payload, block)).toBe(0);
    expect(client.received.slice(2).map((m) => m.command)).toEqual(['block', 'wtxidrelay']);
    expect(Buffer.compare(client.received[2].payload, block)).toBe(0);
    expect(counters.get('v2_sessions')).toBe(1);
    expect(counters.get('messages_to_dest')).toBe(3);
    expect(counters.get('messages_to_client')).toBe(4);
  });

  it("takes the network from the client's v1 magic (main, testnet4, signet)", async () => {
    const { proxy, port } = await startProxy();
    for (const name of ['main', 'testnet4', 'signet'] as const) {
      const magic = NETWORKS[name].magic;
      const peer = new V2Peer({ magic });
      await peer.listen();
      cleanups.push(() => peer.close());
      const c = await V1Client.viaSocks(port, { host: '127.0.0.1', port: peer.port }, false, magic);
      cleanups.push(() => c.close());
      c.send('version', versionPayload());
      // The session keys mix in the magic: verack arrives only if the proxy chose the same network.
      await until(`verack on ${name}`, () => c.received.some((m) => m.command === 'verack'));
      expect(proxy.connections().find((x) => x.destination === `127.0.0.1:${peer.port}`)?.network).toBe(name);
    }
  });

  it('answers a refused TCP connect with SOCKS5 reply 5 and counts it', async () => {
    const { port, counters } = await startProxy();
    const dead = await startV1Only();
    await cleanups.pop()!(); // closed: nothing listens on dead.port now
    await expect(V1Client.viaSocks(port, { host: '127.0.0.1', port: dead.port })).rejects.toThrow(/ConnectionRefused/);
    await until('the error counter', () => counters.get('errors.proxy-connect-failed') === 1);
  });

  it('refuses a destination without v2, or forwards v1 with allowV1', async () => {
    const v1 = await startV1Only();
    const strict = await startProxy();
    const a = await V1Client.viaSocks(strict.port, { host: '127.0.0.1', port: v1.port });
    cleanups.push(() => a.close());
    a.send('version', versionPayload());
    await until('the client closed', () => a.closed);
    expect(strict.counters.get('errors.proxy-v2-refused')).toBe(1);
    expect(strict.log.lines.join('\n')).toMatch(/does not speak BIP324 v2.*allowv1=1/);

    const lax = await startProxy({ allowV1: true });
    const b = await V1Client.viaSocks(lax.port, { host: '127.0.0.1', port: v1.port });
    cleanups.push(() => b.close());
    b.send('version', versionPayload());
    await until('the echoed version', () => b.received.length === 1);
    expect(v1.got).toContain('version');
    expect(lax.counters.get('v1_fallbacks')).toBe(1);
    expect(lax.proxy.connections()[0].transport).toBe('v1');
  });

  it('answers a request for the proxy itself with "not allowed" (proxy-loop)', async () => {
    const { port, counters } = await startProxy();
    await expect(V1Client.viaSocks(port, { host: '127.0.0.1', port })).rejects.toThrow(/NotAllowed/);
    await until('the counter', () => counters.get('errors.proxy-loop') === 1);
  });

  it('answers BIND with "command not supported"', async () => {
    const { port, counters } = await startProxy();
    const s = connect(port, '127.0.0.1');
    cleanups.push(() => s.destroy());
    const got: number[] = [];
    s.on('data', (b: Buffer) => got.push(...b));
    s.write(Uint8Array.of(5, 1, 0));
    s.write(Uint8Array.of(5, 2, 0, 1, 127, 0, 0, 1, 0, 80));
    await until('the reply', () => got.length >= 12);
    expect(got.slice(0, 4)).toEqual([5, 0, 5, 7]);
    await until('the counter', () => counters.get('errors.socks5-command-not-supported') === 1);
  });
});

describe('BIP324 proxy, upstream SOCKS5 proxy (proxy=, e.g. Tor)', () => {
  it('reaches the destination through microsocks, handing it the name unresolved; says so when it is down', async () => {
    const peer = await startPeer();
    const ms = await startMicrosocks();
    const upPort = ms.port;
    cleanups.push(() => ms.close());
    const { port, counters, log } = await startProxy({ upstream: { host: '127.0.0.1', port: upPort } });
    const c = await V1Client.viaSocks(port, { host: 'localhost', port: peer.port });
    cleanups.push(() => c.close());
    c.send('version', versionPayload());
    await until('verack through both proxies', () => c.received.some((m) => m.command === 'verack'));
    await until('microsocks logging the connection by name', () => ms.log().includes(`connected to localhost:${peer.port}`));

    await ms.close();
    await expect(V1Client.viaSocks(port, { host: 'localhost', port: peer.port })).rejects.toThrow(/Socks5 proxy rejected/);
    await until('the error counter', () => counters.get('errors.proxy-connect-failed') === 1);
    expect(log.lines.join('\n')).toMatch(new RegExp(`cannot reach localhost:${peer.port}: through SOCKS5 proxy 127.0.0.1:${upPort}`));
  });
});

describe('BIP324 proxy, plain v1 front end', () => {
  it('takes the destination from the version message addr_recv', async () => {
    const peer = await startPeer();
    const { port } = await startProxy();
    const c = await V1Client.plain(port);
    cleanups.push(() => c.close());
    c.send('version', versionPayload({ ip: ipv4Mapped(127, 0, 0, 1), port: peer.port }));
    await until('verack', () => c.received.some((m) => m.command === 'verack'));
    expect(peer.received[0].command).toBe('version');
  });

  it('uses a fixed -to= destination', async () => {
    const peer = await startPeer();
    const { port, proxy } = await startProxy({ to: { host: '127.0.0.1', port: peer.port } });
    const c = await V1Client.plain(port);
    cleanups.push(() => c.close());
    c.send('version', versionPayload({ port: 1 }));
    await until('verack', () => c.received.some((m) => m.command === 'verack'));
    expect(proxy.connections()[0]).toMatchObject({ mode: 'plain', destination: `127.0.0.1:${peer.port}`, transport: 'v2' });
  });

  it('refuses a version naming the proxy itself, an unspecified address, unknown magic, and a first message that is not version', async () => {
    const { port, counters } = await startProxy();
    const cases: [string, (c: V1Client) => void][] = [
      ['proxy-loop', (c) => c.send('version', versionPayload({ port }))],
      ['proxy-no-destination', (c) => c.send('version', versionPayload({ ip: new Uint8Array(16), port: 8333 }))],
      ['proxy-first-not-version', (c) => c.send('ping', new Uint8Array(8))],
      ['proxy-unknown-magic', (c) => c.socket.write(Buffer.from('GET / HTTP/1.1\r\n\r\n'))],
    ];
    for (const [code, act] of cases) {
      const c = await V1Client.plain(port);
      cleanups.push(() => c.close());
      act(c);
      await until(`close for ${code}`, () => c.closed);
      expect(counters.get(`errors.${code}`), code).toBe(1);
    }
  });

  it('closes a client that never finishes, when the handshake timeout passes', async () => {
    const { port, counters } = await startProxy({ handshakeTimeoutMs: 300 });
    const c = await V1Client.plain(port);
    cleanups.push(() => c.close());
    c.socket.write(Buffer.from([0xfa, 0xbf]));
    await until('closed', () => c.closed, 3000);
    expect(counters.get('errors.proxy-handshake-timeout')).toBe(1);
  });
});

describe('BIP324 proxy, limits', () => {
  it('listens on loopback only unless allowRemote', () => {
    expect(() => new Bip324Proxy({ listen: { host: '0.0.0.0', port: 0 }, log: memoryLogger(), counters: new Counters() })).toThrow(
      ConfigError,
    );
  });

  it('refuses connections beyond maxConnections', async () => {
    const { port, counters } = await startProxy({ maxConnections: 1 });
    const a = await V1Client.plain(port);
    cleanups.push(() => a.close());
    await until('the first connection accepted', () => counters.get('connections') === 1);
    const b = await V1Client.plain(port);
    cleanups.push(() => b.close());
    await until('the second refused', () => b.closed);
    expect(counters.get('connections_refused')).toBe(1);
  });

  it('stops reading the destination while the client does not read (backpressure), losing nothing', async () => {
    const peer = await startPeer();
    const { port, counters } = await startProxy();
    const c = await V1Client.viaSocks(port, { host: '127.0.0.1', port: peer.port });
    cleanups.push(() => c.close());
    c.send('version', versionPayload());
    await until('verack', () => c.received.length === 2);
    c.socket.pause();
    const block = rnd(1_000_000);
    for (let i = 0; i < 20; i++) peer.send('block', block);
    await until('backpressure', () => counters.get('backpressure_pauses') > 0);
    await new Promise((r) => setTimeout(r, 200));
    // Not all 20 MB sit in the proxy: it paused reading from the destination.
    expect(c.received.length).toBe(2);
    c.socket.resume();
    await until('all 20 blocks', () => c.received.length === 22, 20_000);
    expect(c.received.slice(2).every((m) => m.command === 'block' && m.payload.length === 1_000_000)).toBe(true);
  });
});
