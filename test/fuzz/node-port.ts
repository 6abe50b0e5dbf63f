// Fuzz targets for what a hostile local process or a broken driver can feed altnet: the node
// port (a fresh NodePeer per input, on an in-memory socket, behind a real Router and header
// chain; v1 streams and BIP324 v2 streams) and the driver IPC decoder (IpcDecoder + the message
// validators). A "crash" is an exception escaping the socket's data handler or the decoder that
// is not a typed AltnetError, or an error the peer itself counts as `internal` (an untyped
// exception caught at its boundary). Inputs are seeded (test/codec/prng.ts), so every crash
// reproduces from its seed and index.
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { NETWORKS } from '../../src/chain/networks.js';
import { HeaderChain } from '../../src/chain/chain.js';
import { headerHash } from '../../src/chain/header.js';
import { Router } from '../../src/gateway/router.js';
import {
  frameMessage,
  IpcDecoder,
  parseChildMessage,
  parseParentMessage,
  type ChildMessage,
  type ParentMessage,
} from '../../src/gateway/ipc.js';
import {
  encodeGetHeaders,
  encodeHeaders,
  encodeInv,
  encodeNonce,
  encodeVersion,
  InvType,
  PROTOCOL_VERSION,
} from '../../src/node/messages.js';
import { NodePeer } from '../../src/node/peer.js';
import { V1Transport } from '../../src/node/transport.js';
import { V2Transport } from '../../src/node/v2/transport.js';
import { encodeV1Message, type P2PMessage } from '../../src/node/wire.js';
import { Counters } from '../../src/util/counters.js';
import { AltnetError } from '../../src/util/errors.js';
import { silentLogger } from '../../src/util/log.js';
import { mutate } from '../codec/fuzz.js';
import { Prng } from '../codec/prng.js';

const NET = NETWORKS.regtest;

export interface FuzzCounts {
  target: string;
  inputs: number;
  /** Inputs after which the connection was still open (or the decoder returned messages). */
  accepted: number;
  /** Inputs that ended in a typed error (the connection dropped with a code). */
  typedErrors: number;
  crashes: number;
  crashSamples: string[];
  /** Largest resident set seen while running, bytes. */
  maxRss: number;
}

/** Just enough of net.Socket for NodePeer: data in, writes counted, destroy closes once. */
class MemorySocket extends EventEmitter {
  remoteAddress = '127.0.0.1';
  remotePort = 40000;
  written: Uint8Array[] = [];
  destroyed = false;
  setNoDelay(): void {}
  write(b: Uint8Array): boolean {
    if (this.written.length < 64) this.written.push(b);
    return true;
  }
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.emit('close');
  }
}

/** A deterministic byte source (so a v2 responder's key, and thus a recorded stream, repeats). */
function fixedRng(seed: number): (n: number) => Uint8Array {
  const p = new Prng(seed);
  return (n) => p.bytes(n);
}

const RESPONDER_SEED = 7;

interface Harness {
  counters: Counters;
  /** Feeds one connection's bytes (in chunks) to a fresh peer; returns whether it stayed open. */
  connect(chunks: Uint8Array[], v2: boolean): { open: boolean; peer: NodePeer; socket: MemorySocket };
}

/** A real chain (regtest, 20 headers of a real-looking chain) and router behind every peer. */
function harness(): Harness {
  const counters = new Counters();
  const log = silentLogger();
  const chain = new HeaderChain({ network: NET, log, counters: counters.scoped('chain.'), checkpoint: null });
  const peers: NodePeer[] = [];
  const router = new Router({ chain, log, counters, nodePeers: () => peers.filter((p) => p.isReady) });
  return {
    counters,
    connect(chunks, v2) {
      const socket = new MemorySocket();
      const peer = new NodePeer(socket as unknown as Socket, {
        network: NET,
        log,
        counters,
        chain,
        events: router.nodeEvents,
        v2Responder: v2
          ? () => new V2Transport({ magic: NET.magic, role: 'responder', rng: fixedRng(RESPONDER_SEED), garbageLen: 0, aead: 'node' })
          : undefined,
        limits: { handshakeMs: 60_000, firstRequestMs: 60_000 },
      });
      peers.push(peer);
      for (const c of chunks) {
        if (socket.destroyed) break;
        socket.emit('data', Buffer.from(c.buffer, c.byteOffset, c.length));
      }
      const open = !socket.destroyed;
      peer.close('fuzz input done');
      peers.length = 0;
      return { open, peer, socket };
    },
  };
}

/** The messages a node sends on a connection: handshake, then a bit of everything. */
function nodeMessages(rng: Prng): P2PMessage[] {
  const none = { services: 0n, ip: new Uint8Array(16), port: 0 };
  const genesis = NET.genesisHeader;
  const fake = (i: number) => {
    const h = Uint8Array.from(genesis);
    h[4] = i; // a parent nobody knows, or (i = 0) a mutated genesis child
    h[76] = i;
    return h;
  };
  return [
    {
      command: 'version',
      payload: encodeVersion({
        version: PROTOCOL_VERSION,
        services: 1033n,
        timestamp: 1_700_000_000n,
        addrRecv: none,
        addrFrom: none,
        nonce: 0x1234n,
        userAgent: '/Satoshi:30.2.0/',
        startHeight: 100,
        relay: true,
      }),
    },
    { command: 'wtxidrelay', payload: new Uint8Array(0) },
    { command: 'sendaddrv2', payload: new Uint8Array(0) },
    { command: 'verack', payload: new Uint8Array(0) },
    { command: 'sendcmpct', payload: Uint8Array.of(0, 2, 0, 0, 0, 0, 0, 0, 0) },
    { command: 'ping', payload: encodeNonce(42n) },
    {
      command: 'getheaders',
      payload: encodeGetHeaders({ version: PROTOCOL_VERSION, locator: [headerHash(NET.genesisHeader)], stopHash: new Uint8Array(32) }),
    },
    { command: 'headers', payload: encodeHeaders([fake(0), fake(1), fake(rng.int(256))]) },
    {
      command: 'inv',
      payload: encodeInv([
        { type: InvType.BLOCK, hash: new Uint8Array(32).fill(3) },
        { type: InvType.WTX, hash: new Uint8Array(32).fill(4) },
      ]),
    },
    { command: 'getdata', payload: encodeInv([{ type: InvType.WITNESS_BLOCK, hash: new Uint8Array(32).fill(5) }]) },
    { command: 'feefilter', payload: new Uint8Array(8) },
    { command: 'pong', payload: encodeNonce(7n) },
    { command: 'notfound', payload: encodeInv([]) },
    { command: 'futurecmd', payload: rng.bytes(rng.int(20)) },
  ];
}

/** Splits bytes into 1..4 chunks at random points (sockets deliver in arbitrary pieces). */
function chunked(rng: Prng, b: Uint8Array): Uint8Array[] {
  const n = rng.range(1, 4);
  const cuts = Array.from({ length: n - 1 }, () => rng.int(b.length + 1)).sort((x, y) => x - y);
  const out: Uint8Array[] = [];
  let at = 0;
  for (const c of [...cuts, b.length]) {
    out.push(b.subarray(at, c));
    at = c;
  }
  return out.filter((c) => c.length > 0);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Structure-aware: one message's payload mutated (checksums and framing stay right). */
function mutatedMessages(rng: Prng, base: P2PMessage[] = nodeMessages(rng)): P2PMessage[] {
  const msgs = base.slice(0, rng.range(1, base.length));
  const i = rng.int(msgs.length);
  msgs[i] = { command: msgs[i].command, payload: mutate(rng, msgs[i].payload) };
  if (rng.chance(0.2)) msgs.splice(rng.int(msgs.length), 1); // out of order / missing step
  return msgs;
}

/**
 * Initiator bytes of a whole v2 connection with the responder's fixed key, recorded once per
 * message list (two ECDHs) so each input costs only the responder's.
 */
function recordV2(messages: P2PMessage[], garbageLen: number, seed: number): Uint8Array {
  const ini = new V2Transport({ magic: NET.magic, role: 'initiator', rng: fixedRng(seed), garbageLen, aead: 'node' });
  const res = new V2Transport({ magic: NET.magic, role: 'responder', rng: fixedRng(RESPONDER_SEED), garbageLen: 0, aead: 'node' });
  const out: Uint8Array[] = [...ini.start()];
  // The responder's key, terminator and version (as NodePeer drives it: start, then receive)
  // complete our side of the handshake.
  const resSend = [...res.start(), ...res.receive(concat(out)).send];
  const iniSend = ini.receive(concat(resSend)).send;
  out.push(...iniSend);
  for (const m of messages) out.push(ini.encode(m));
  return concat(out);
}

export interface PortTarget {
  name: string;
  run(rng: Prng, h: Harness): boolean;
}

/** v1: raw mutations of a whole recorded stream, or well-framed streams with a mutated payload. */
export function v1Target(): PortTarget {
  const base = nodeMessages(new Prng(11));
  // Framed once: each input re-frames only the message it mutates.
  const frames = base.map((m) => encodeV1Message(NET.magic, m));
  const seeds = [1, 4, 7, 14].map((n) => concat(frames.slice(0, n)));
  return {
    name: 'node-port-v1',
    run(rng, h) {
      let bytes: Uint8Array;
      const r = rng.int(10);
      if (r < 4) bytes = mutate(rng, rng.pick(seeds));
      else if (r < 9) {
        const msgs = frames.slice(0, rng.range(1, frames.length));
        const i = rng.int(msgs.length);
        msgs[i] = encodeV1Message(NET.magic, { command: base[i].command, payload: mutate(rng, base[i].payload) });
        if (rng.chance(0.2)) msgs.splice(rng.int(msgs.length), 1); // out of order / missing step
        bytes = concat(msgs);
      } else bytes = rng.bytes(rng.int(200));
      return h.connect(chunked(rng, bytes), false).open;
    },
  };
}

/** v2: recorded BIP324 streams (some carrying a mutated message), mutated raw or sent as they are. */
export function v2Target(): PortTarget {
  const base = new Prng(12);
  const seeds: Uint8Array[] = [];
  for (let i = 0; i < 24; i++) {
    const msgs = i < 4 ? nodeMessages(base).slice(0, [1, 4, 7, 14][i]) : mutatedMessages(base);
    seeds.push(recordV2(msgs, i % 3 === 0 ? base.int(100) : 0, 100 + i));
  }
  return {
    name: 'node-port-v2',
    run(rng, h) {
      const seed = rng.pick(seeds);
      const bytes = rng.chance(0.8) ? mutate(rng, seed) : seed;
      return h.connect(chunked(rng, bytes), true).open;
    },
  };
}

/** Runs a node-port target; the harness (chain, router) persists across inputs. */
export function fuzzPort(target: PortTarget, inputs: number, seed: number): FuzzCounts {
  const rng = new Prng(seed);
  const h = harness();
  const counts: FuzzCounts = { target: target.name, inputs, accepted: 0, typedErrors: 0, crashes: 0, crashSamples: [], maxRss: 0 };
  let internal = 0;
  for (let i = 0; i < inputs; i++) {
    try {
      if (target.run(rng, h)) counts.accepted++;
      else counts.typedErrors++;
    } catch (err) {
      counts.crashes++;
      if (counts.crashSamples.length < 5) counts.crashSamples.push(`input ${i} (seed ${seed}): ${String(err)}`);
    }
    const now = h.counters.get('node.errors.internal');
    if (now !== internal) {
      internal = now;
      counts.crashes++;
      if (counts.crashSamples.length < 5) counts.crashSamples.push(`input ${i} (seed ${seed}): an untyped error inside the peer`);
    }
    if (i % 5000 === 0) counts.maxRss = Math.max(counts.maxRss, process.memoryUsage().rss);
  }
  counts.maxRss = Math.max(counts.maxRss, process.memoryUsage().rss);
  return counts;
}

/** Driver IPC: framed messages, mutated in their length prefix and CBOR body. */
export function fuzzIpc(inputs: number, seed: number): FuzzCounts {
  const rng = new Prng(seed);
  const h80 = (i: number) => new Uint8Array(80).fill(i);
  const child: ChildMessage[] = [
    { t: 'hello', caps: { direction: 'duplex', mtu: 51, bitrate: 300, dutyCycle: 0.01, carries: ['headers', 'tx'], needsCallsign: false } },
    { t: 'headers', headers: [h80(1), h80(2), h80(3)] },
    { t: 'tx', raw: new Uint8Array(120).fill(9) },
    { t: 'block', hash: new Uint8Array(32).fill(1), raw: new Uint8Array(300).fill(2) },
    { t: 'block-missing', hash: new Uint8Array(32).fill(1), reason: 'not found' },
    { t: 'tip', height: 830_000, hash: new Uint8Array(32).fill(7), chainWork: 2n ** 90n },
    { t: 'state', state: 'degraded', reason: 'timeouts' },
    { t: 'headers-wanted', locator: [{ height: 5, prefix: Uint8Array.of(1, 2, 3, 4) }], max: 64 },
    { t: 'log', level: 'warn', msg: 'hello' },
    { t: 'counters', values: { frames_rx: 3, frames_tx: 4 } },
  ];
  const parent: ParentMessage[] = [
    { t: 'start', name: 'x', type: 'lora', options: { device: '/dev/ttyUSB0' }, network: 'main' },
    { t: 'request-headers', locator: [new Uint8Array(32).fill(1)] },
    { t: 'send-headers', parentHeight: 9, parent: h80(9), headers: [h80(10)] },
    { t: 'set-context', fromHeight: 1, headers: [h80(1), h80(2)] },
    { t: 'send-tx', raw: new Uint8Array(60) },
    { t: 'fetch-block', hash: new Uint8Array(32) },
    { t: 'stop' },
  ];
  const seeds = [...child, ...parent].map(frameMessage);
  const counts: FuzzCounts = { target: 'ipc-decoder', inputs, accepted: 0, typedErrors: 0, crashes: 0, crashSamples: [], maxRss: 0 };
  for (let i = 0; i < inputs; i++) {
    const r = rng.int(10);
    const input =
      r === 0 ? rng.bytes(rng.int(100)) : r < 3 ? concat([rng.pick(seeds), mutate(rng, rng.pick(seeds))]) : mutate(rng, rng.pick(seeds));
    // A small bound so mutated length prefixes are checked against it, not allocated.
    const dec = new IpcDecoder(64 * 1024);
    try {
      let any = false;
      for (const chunk of chunked(rng, input)) {
        for (const v of dec.push(chunk)) {
          any = true;
          // The parent validates what a driver sends, the driver what the parent sends.
          try {
            parseChildMessage(v);
          } catch (err) {
            if (!(err instanceof AltnetError)) throw err;
            parseParentMessage(v);
          }
        }
      }
      if (dec.buffered > 64 * 1024 + 4) throw new Error(`decoder holds ${dec.buffered} bytes, over its bound`);
      if (any) counts.accepted++;
      else counts.typedErrors++;
    } catch (err) {
      if (err instanceof AltnetError) counts.typedErrors++;
      else {
        counts.crashes++;
        if (counts.crashSamples.length < 5)
          counts.crashSamples.push(`input ${i} (seed ${seed}) ${Buffer.from(input.subarray(0, 64)).toString('hex')}: ${String(err)}`);
      }
    }
    if (i % 5000 === 0) counts.maxRss = Math.max(counts.maxRss, process.memoryUsage().rss);
  }
  counts.maxRss = Math.max(counts.maxRss, process.memoryUsage().rss);
  return counts;
}
