// The node port builds its BIP324 responder when a connection's first bytes say v2, and the
// daemon's builder resolves later (node/server.ts loads BIP324 on the first v2 connection): the
// bytes arriving meanwhile wait and none is lost; more than a v2 initiator can send before our key
// ends the connection.
import { once } from 'node:events';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { NETWORKS } from '../../src/chain/networks.js';
import { headerHash } from '../../src/chain/header.js';
import { freePort } from '../../src/node/bitcoind.js';
import { encodeVersion, PROTOCOL_VERSION } from '../../src/node/messages.js';
import type { HeaderView } from '../../src/node/peer.js';
import { NodeServer } from '../../src/node/server.js';
import { V2Transport } from '../../src/node/v2/transport.js';
import { concatBytes } from '../../src/util/bytes.js';
import { Counters } from '../../src/util/counters.js';
import { memoryLogger } from '../../src/util/log.js';

const NET = NETWORKS.regtest;
const genesisOnly: HeaderView = { height: 0, locator: () => [headerHash(NET.genesisHeader)], headersAfter: () => [] };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let server: NodeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A node port whose v2 responder is ready `delayMs` after it is asked for. */
async function lateV2Port(delayMs: number): Promise<{ port: number; counters: Counters; asked: () => number }> {
  const port = await freePort();
  const counters = new Counters();
  let asked = 0;
  server = new NodeServer({
    host: '127.0.0.1',
    port,
    network: NET,
    log: memoryLogger(),
    counters,
    chain: genesisOnly,
    v2Responder: () => {
      asked++;
      return new Promise((resolve) => setTimeout(() => resolve(new V2Transport({ magic: NET.magic, role: 'responder' })), delayMs));
    },
    events: { ready: () => {}, headers: () => {}, getheaders: () => {}, inv: () => {}, closed: () => {} },
  });
  await server.listen();
  return { port, counters, asked: () => asked };
}

describe('node port with a v2 responder built late', () => {
  it('keeps the bytes that came while it was built, in order, and finishes the v2 handshake', async () => {
    const { port, counters, asked } = await lateV2Port(300);
    const client = new V2Transport({ magic: NET.magic, role: 'initiator' });
    const none = { services: 0n, ip: new Uint8Array(16), port: 0 };
    client.encode({
      command: 'version',
      payload: encodeVersion({
        version: PROTOCOL_VERSION,
        services: 0n,
        timestamp: BigInt(Math.floor(Date.now() / 1000)),
        addrRecv: none,
        addrFrom: none,
        nonce: 42n,
        userAgent: '/late-v2-test/',
        startHeight: 0,
        relay: false,
      }),
    });
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    const got: string[] = [];
    socket.on('data', (b: Buffer) => {
      const r = client.receive(new Uint8Array(b));
      for (const s of r.send) socket.write(s);
      got.push(...r.messages.map((m) => m.command));
    });
    // Our key and garbage in three writes, all before the responder exists.
    const first = concatBytes(...client.start());
    for (const [a, b] of [
      [0, 10],
      [10, 40],
      [40, first.length],
    ]) {
      socket.write(first.subarray(a, b));
      await sleep(40);
    }
    expect(asked()).toBe(1);
    expect(got).toEqual([]);
    for (let i = 0; i < 50 && !got.includes('verack'); i++) await sleep(50);
    socket.destroy();
    expect(got[0]).toBe('version');
    expect(got).toContain('verack');
    expect(counters.get('node.msg_in.version')).toBe(1);
  });

  it('ends a connection that sends more than a v2 initiator may before our key', async () => {
    const { port } = await lateV2Port(3000);
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    // (once() would reject on the reset that the close may bring)
    const closed = new Promise((r) => socket.on('close', r));
    socket.on('error', () => {});
    socket.write(new Uint8Array(64).fill(0xab));
    await sleep(50);
    socket.write(new Uint8Array(80 * 1024).fill(0xcd));
    const t0 = Date.now();
    await closed;
    expect(Date.now() - t0).toBeLessThan(2000);
  });
});
