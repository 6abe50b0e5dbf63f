// A hostile local process on altnet's node port: connects, optionally completes the v1
// handshake as a node would, then does whatever the test makes it do (announce headers, say
// nothing, trickle a huge message). Built on altnet's own v1 framing; it is a client, not the
// subject under test.
import net from 'node:net';
import type { NetworkParams } from '../../src/chain/networks.js';
import { encodeHeaders, encodeVersion, PROTOCOL_VERSION } from '../../src/node/messages.js';
import { V1Transport } from '../../src/node/transport.js';
import { encodeCommand } from '../../src/node/wire.js';
import { writeU32LE } from '../../src/util/bytes.js';

export interface HostilePeer {
  socket: net.Socket;
  /** Commands received from altnet. */
  received: string[];
  closed: Promise<void>;
  isClosed(): boolean;
  send(command: string, payload?: Uint8Array): void;
  sendHeaders(raw: Uint8Array[]): void;
  /** Starts a v1 message claiming `length` bytes and sends its payload one byte every `everyMs`. */
  trickle(length: number, everyMs: number): void;
  destroy(): void;
}

export async function connectHostile(
  network: NetworkParams,
  port: number,
  opts: { handshake?: boolean; timeoutMs?: number } = {},
): Promise<HostilePeer> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  const transport = new V1Transport(network.magic);
  const received: string[] = [];
  let open = true;
  let trickleTimer: NodeJS.Timeout | undefined;
  const closed = new Promise<void>((resolve) =>
    socket.once('close', () => {
      open = false;
      clearInterval(trickleTimer);
      resolve();
    }),
  );
  let verack: () => void = () => {};
  const gotVerack = new Promise<void>((r) => (verack = r));
  socket.on('data', (chunk: Buffer) => {
    try {
      for (const m of transport.receive(new Uint8Array(chunk)).messages) {
        received.push(m.command);
        if (m.command === 'verack') verack();
      }
    } catch {
      socket.destroy();
    }
  });
  const peer: HostilePeer = {
    socket,
    received,
    closed,
    isClosed: () => !open,
    send: (command, payload = new Uint8Array(0)) => {
      if (open) socket.write(transport.encode({ command, payload }));
    },
    sendHeaders: (raw) => peer.send('headers', encodeHeaders(raw)),
    trickle: (length, everyMs) => {
      const head = new Uint8Array(24);
      head.set(network.magic, 0);
      head.set(encodeCommand('tx'), 4);
      writeU32LE(head, 16, length);
      socket.write(head);
      let sent = 0;
      trickleTimer = setInterval(() => {
        if (!open || sent >= length) return clearInterval(trickleTimer);
        socket.write(Uint8Array.of(0x42));
        sent++;
      }, everyMs);
    },
    destroy: () => socket.destroy(),
  };
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('closed before connecting')));
  });
  if (opts.handshake) {
    const none = { services: 0n, ip: new Uint8Array(16), port: 0 };
    peer.send(
      'version',
      encodeVersion({
        version: PROTOCOL_VERSION,
        services: 0n,
        timestamp: BigInt(Math.floor(Date.now() / 1000)),
        addrRecv: none,
        addrFrom: none,
        nonce: BigInt(Math.floor(Math.random() * 2 ** 48)),
        userAgent: '/hostile:0.1/',
        startHeight: 0,
        relay: false,
      }),
    );
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error('no verack from altnet')), opts.timeoutMs ?? 5000).unref(),
    );
    await Promise.race([
      gotVerack,
      closed.then(() => Promise.reject(new Error('altnet closed the connection during the handshake'))),
      timeout,
    ]);
    peer.send('verack');
  }
  return peer;
}
