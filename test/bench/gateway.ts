// Gateway figures (DESIGN.md section 4):
//  - frameToNodeMs: a TIP frame arriving at a receive-only gateway's simulated LoRa link, to
//    the `headers` message reaching a raw v1 peer playing the node (same process, hrtime);
//  - gatewayRssMB: resident memory of a gateway with 4 links after it took the 8,065 real
//    mainnet headers, measured in a child process (gateway-rss.ts), plus its link children;
//  - loraTipDelivery: a new header from a beacon to a receive-only gateway over simulated SF12
//    at 1% duty cycle: frame size, airtime, packets, duty-cycle window, and one real delivery.
// Run: npx tsc -p tsconfig.json && node dist/test/bench/run.js gateway
import { spawn } from 'node:child_process';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { dirname, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { checkProofOfWork, headerHash, serializeHeader } from '../../src/chain/header.js';
import { NETWORKS, type NetworkParams } from '../../src/chain/networks.js';
import { encodeFrame, frameOverhead, FrameType } from '../../src/codec/frames.js';
import { Fragmenter } from '../../src/codec/fragment.js';
import { encodeTip } from '../../src/codec/headers.js';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startTestGateway } from '../harness/gateway.js';
import { SimAir } from '../../src/links/sim/air.js';
import { EU868_MAX_PAYLOAD } from '../../src/links/sim/transport.js';
import { loraAirtimeMs, type LoraAirtimeParams } from '../../src/links/radio/airtime.js';
import {
  encodeGetHeaders,
  encodeHeaders,
  encodeNonce,
  decodeHeaders,
  decodeNonce,
  encodeVersion,
  ipv4Mapped,
  PROTOCOL_VERSION,
} from '../../src/node/messages.js';
import { encodeV1Message, V1Decoder } from '../../src/node/wire.js';
import { equalBytes } from '../../src/util/bytes.js';
import { silentLogger } from '../../src/util/log.js';
import { SHARED_DATA } from '../harness/data.js';
import { until } from '../helpers/wait.js';

const SAMPLES = 300;
const WARMUP = 20;

// ---- a raw v1 peer playing the node ---------------------------------------------------------

interface HeadersArrival {
  at: number;
  headers: Uint8Array[];
}

/** Completes the v1 handshake with a gateway and timestamps every non-empty `headers`. */
class RawNodePeer {
  private readonly decoder: V1Decoder;
  private socket: Socket | undefined;
  private waiters: Array<(a: HeadersArrival) => void> = [];
  readonly arrivals: HeadersArrival[] = [];
  private readyResolve: (() => void) | undefined;
  readonly ready: Promise<void>;

  constructor(private readonly network: NetworkParams) {
    this.decoder = new V1Decoder(network.magic);
    this.ready = new Promise((r) => (this.readyResolve = r));
  }

  async connect(port: number): Promise<void> {
    const socket = connect({ host: '127.0.0.1', port });
    this.socket = socket;
    socket.setNoDelay(true);
    await new Promise<void>((res, rej) => {
      socket.once('connect', res);
      socket.once('error', rej);
    });
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      // Taken before decoding, so the figure ends when the bytes reach the node's socket.
      const at = performance.now();
      for (const msg of this.decoder.push(new Uint8Array(chunk))) this.onMessage(msg.command, msg.payload, at);
    });
    this.send(
      'version',
      encodeVersion({
        version: PROTOCOL_VERSION,
        services: 0x409n,
        timestamp: BigInt(Math.floor(Date.now() / 1000)),
        addrRecv: { services: 0n, ip: ipv4Mapped(127, 0, 0, 1), port },
        addrFrom: { services: 0x409n, ip: ipv4Mapped(0, 0, 0, 0), port: 0 },
        nonce: randomBytes(8).readBigUInt64LE(),
        userAgent: '/altnet-bench:0.1/',
        startHeight: 0,
        relay: true,
      }),
    );
  }

  send(command: string, payload: Uint8Array): void {
    this.socket?.write(encodeV1Message(this.network.magic, { command, payload }));
  }

  /** Announces headers to the gateway, as a node announces a new block (BIP130). */
  announce(headers: Uint8Array[]): void {
    this.send('headers', encodeHeaders(headers));
  }

  nextHeaders(timeoutMs: number): Promise<HeadersArrival> {
    return new Promise((res, rej) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        rej(new Error(`no headers message from the gateway within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (a: HeadersArrival) => {
        clearTimeout(timer);
        res(a);
      };
      this.waiters.push(waiter);
    });
  }

  close(): void {
    this.socket?.destroy();
  }

  private onMessage(command: string, payload: Uint8Array, at: number): void {
    switch (command) {
      case 'version':
        this.send('verack', new Uint8Array(0));
        return;
      case 'sendheaders':
        // The gateway sends it right after our verack: its side of the handshake is done.
        this.send('sendheaders', new Uint8Array(0));
        // Our tip is genesis: tell the gateway, as a node's getheaders does.
        this.send(
          'getheaders',
          encodeGetHeaders({ version: PROTOCOL_VERSION, locator: [headerHash(this.network.genesisHeader)], stopHash: new Uint8Array(32) }),
        );
        this.readyResolve?.();
        return;
      case 'ping':
        this.send('pong', encodeNonce(decodeNonce(payload, 'ping')));
        return;
      case 'getheaders':
        this.send('headers', encodeHeaders([]));
        return;
      case 'headers': {
        const headers = decodeHeaders(payload);
        if (headers.length === 0) return;
        const arrival = { at, headers };
        this.arrivals.push(arrival);
        const waiters = this.waiters;
        this.waiters = [];
        for (const w of waiters) w(arrival);
        return;
      }
      default:
        return;
    }
  }
}

// ---- regtest headers we mine ourselves --------------------------------------------------------

/** `count` headers on regtest genesis, proof of work ground at nBits 0x207fffff. */
function mineRegtest(count: number): Uint8Array[] {
  const net = NETWORKS.regtest;
  const out: Uint8Array[] = [];
  let parent = net.genesisHeader;
  const genesisTime = new DataView(parent.buffer, parent.byteOffset).getUint32(68, true);
  for (let i = 0; i < count; i++) {
    const fields = {
      version: 0x20000000,
      prevHash: headerHash(parent),
      merkleRoot: new Uint8Array(randomBytes(32)),
      time: genesisTime + 600 * (i + 1),
      bits: 0x207fffff,
      nonce: 0,
    };
    let raw = serializeHeader(fields);
    while (!checkProofOfWork(raw, net.powLimit)) {
      fields.nonce++;
      raw = serializeHeader(fields);
    }
    out.push(raw);
    parent = raw;
  }
  return out;
}

function tipFrame(header: Uint8Array, height: number, parent: Uint8Array): Uint8Array {
  return encodeFrame(FrameType.TIP, encodeTip({ header, height, parent }), { integrity: 'crc16' });
}

// ---- small helpers ---------------------------------------------------------------------------------

function stats(xs: number[]): { median: number; p90: number; mean: number; min: number; max: number; n: number } {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  const r = (v: number) => +v.toFixed(3);
  return {
    median: r(q(0.5)),
    p90: r(q(0.9)),
    mean: r(s.reduce((a, b) => a + b, 0) / s.length),
    min: r(s[0]),
    max: r(s[s.length - 1]),
    n: s.length,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function simLink(name: string, airPort: number, direction: string, sf: number, dutycycle: string) {
  return { name, type: 'sim', options: { type: 'sim', air: `127.0.0.1:${airPort}`, sf: String(sf), dutycycle, direction } };
}

// ---- 1. frame at the link -> headers at the node -------------------------------------------------

/**
 * `direct`: we play the air ourselves (the link joins our socket and we hand it each frame), so
 * the clock starts one loopback datagram before the link's socket. `simAir`: a second member
 * transmits on the real SimAir (airtime delay divided away), which relays to the link: one more
 * datagram and a timer turn.
 */
async function frameToNode(via: 'direct' | 'simAir', samples: number): Promise<Record<string, unknown>> {
  const net = NETWORKS.regtest;
  const headers = mineRegtest(WARMUP + samples);
  const tx: UdpSocket = createSocket('udp4');
  let linkPort = 0;
  tx.on('message', (msg, rinfo) => {
    if (via === 'direct' && msg[0] === 0x4a) linkPort = rinfo.port;
  });
  await new Promise<void>((r) => tx.bind(0, '127.0.0.1', r));
  const simAir = via === 'simAir' ? new SimAir({ loss: 0, lora: loraParams(7), speedup: 1e9 }) : undefined;
  const airPort = simAir ? await simAir.start() : tx.address().port;
  // On the SimAir, frames go to the air, which relays them to every other member.
  const target = () => (simAir ? airPort : linkPort);
  let gw: Gateway | undefined;
  const peer = new RawNodePeer(net);
  try {
    gw = await startTestGateway({
      network: net,
      mode: 'receive-only',
      links: [simLink('rx', airPort, 'rx', 7, '1')],
      log: silentLogger(),
    });
    const g = gw;
    await peer.connect(g.nodePort);
    await peer.ready;
    await until(
      'the link to come up and join the air',
      () => g.link('rx')?.state === 'up' && (simAir ? simAir.stats.members >= 1 : linkPort !== 0),
      15_000,
    );
    await sleep(300); // the router's context (genesis) reaches the driver after its hello

    // Marks where the main process takes over: entry to and exit from router.onLinkHeaders.
    const router = g.router;
    const original = router.onLinkHeaders.bind(router);
    let enteredAt = 0;
    let leftAt = 0;
    router.onLinkHeaders = (name, raw) => {
      enteredAt = performance.now();
      const result = original(name, raw);
      leftAt = performance.now();
      return result;
    };

    const total: number[] = [];
    const linkSide: number[] = [];
    const mainSide: number[] = [];
    const socketSide: number[] = [];
    let parent = net.genesisHeader;
    for (let i = 0; i < headers.length; i++) {
      const frame = tipFrame(headers[i], i + 1, parent);
      const datagram = new Uint8Array(frame.length + 1);
      datagram[0] = 0x46;
      datagram.set(frame, 1);
      const arrived = peer.nextHeaders(5000);
      const sentAt = performance.now();
      tx.send(datagram, target(), '127.0.0.1');
      const a = await arrived;
      if (a.headers.length !== 1 || !equalBytes(a.headers[0], headers[i]))
        throw new Error(`header ${i + 1} reached the node wrong (${a.headers.length} headers)`);
      if (i >= WARMUP) {
        total.push(a.at - sentAt);
        linkSide.push(enteredAt - sentAt);
        mainSide.push(leftAt - enteredAt);
        socketSide.push(a.at - leftAt);
      }
      parent = headers[i];
    }
    if (g.chain.tip().height !== headers.length) throw new Error(`gateway chain at ${g.chain.tip().height}, expected ${headers.length}`);
    return {
      ...stats(total),
      unit: 'ms',
      target: '< 20 ms median',
      tipFrameBytes: tipFrame(headers[1], 2, headers[0]).length,
      breakdownMedianMs: {
        udpHopChildDecodeIpc: stats(linkSide).median,
        mainValidateRouteEncodeWrite: stats(mainSide).median,
        tcpToNodeSocket: stats(socketSide).median,
      },
      includes:
        (via === 'direct'
          ? 'one loopback UDP datagram to the sim link child'
          : 'a loopback UDP datagram to the SimAir, its relay timer (airtime/1e9) and a second datagram to the sim link child') +
        '; reassembler + CRC-16 + tip decode against the context in the child; CBOR IPC over fd 3 (src/gateway/ipc.ts) (headers + tip messages); main-process parse of the IPC message, chain.addHeaders (PoW, rules, store), router push (headersAfter, headers message encode, socket.write), also router context push to the driver; loopback TCP to the raw peer (its data event). No simulated airtime.',
      setup: `regtest receive-only gateway, one sim rx link (SF7, duty cycle 1), raw v1 peer as the node, ${samples} successive mined headers after ${WARMUP} warm-up, one at a time; frames ${via === 'direct' ? 'sent by us straight to the link socket (we are its air)' : 'sent by a second member through the SimAir relay (airtime divided by 1e9)'}`,
    };
  } finally {
    peer.close();
    await gw?.stop();
    await simAir?.close();
    await new Promise<void>((r) => tx.close(() => r()));
  }
}

// ---- 2. resident memory, in a child process --------------------------------------------------

function runRssChild(airPort: number): Promise<Record<string, unknown>> {
  const here = dirname(fileURLToPath(import.meta.url));
  const script = resolve(here, 'gateway-rss.js');
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, ['--expose-gc', script, String(airPort)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-4000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0)
        return rej(new Error(`gateway-rss child exited with ${code ?? signal}: ${err.trim().split('\n').slice(-3).join(' | ')}`));
      try {
        res(JSON.parse(out));
      } catch {
        rej(new Error(`gateway-rss child printed no JSON: ${out.slice(0, 200)}`));
      }
    });
  });
}

async function gatewayRss(): Promise<Record<string, unknown>> {
  // The air lives here, outside the measured process.
  const air = new SimAir({ loss: 0, lora: loraParams(7) });
  const airPort = await air.start();
  try {
    return { ...(await runRssChild(airPort)), target: '< 80 MB, main process' };
  } finally {
    await air.close();
  }
}

// ---- 3. a new tip from a beacon over SF12 at 1% duty cycle -------------------------------------

function loraParams(sf: number): LoraAirtimeParams {
  return { sf, bandwidthHz: 125_000, codingRate: 5, preambleSymbols: 8, explicitHeader: true, crc: true, lowDataRateOptimize: 'auto' };
}

/** Tip frames for every header of the shared mainnet file (each against its parent). */
function mainnetTipFrames(): { max: number; mean: number; min: number; n: number; countBySize: Record<string, number> } {
  const file = new Uint8Array(readFileSync(SHARED_DATA.recentHeaders));
  const countBySize: Record<string, number> = {};
  let max = 0;
  let min = Infinity;
  let sum = 0;
  let n = 0;
  for (let o = 80; o + 80 <= file.length; o += 80) {
    const len = tipFrame(file.subarray(o, o + 80), SHARED_DATA.recentFirstHeight + o / 80, file.subarray(o - 80, o)).length;
    countBySize[len] = (countBySize[len] ?? 0) + 1;
    max = Math.max(max, len);
    min = Math.min(min, len);
    sum += len;
    n++;
  }
  return { max, min, mean: +(sum / n).toFixed(2), n, countBySize };
}

async function loraTip(): Promise<Record<string, unknown>> {
  const sf12 = loraParams(12);
  const dutyCycle = 0.01;
  const mtu = EU868_MAX_PAYLOAD[12];
  const mainnet = mainnetTipFrames();
  const airtime = loraAirtimeMs(mainnet.max, sf12);
  // The same fragmenter the link uses: a message that fits the MTU goes as one frame.
  const file = new Uint8Array(readFileSync(SHARED_DATA.recentHeaders));
  const last = file.length - 80;
  const body = encodeTip({
    header: file.subarray(last, last + 80),
    height: SHARED_DATA.recentFirstHeight + last / 80,
    parent: file.subarray(last - 80, last),
  });
  const packets = new Fragmenter({ mtu, integrity: 'crc16' }).fragment(FrameType.TIP, body).length;
  const computed = {
    tipFrameBytes: mainnet,
    frameOverheadBytes: frameOverhead(FrameType.TIP, { integrity: 'crc16' }),
    sf12MtuBytes: mtu,
    packetsPerTip: packets,
    airtimeMsSf12Bw125Cr45: +airtime.toFixed(1),
    airtimeMsRange: [+loraAirtimeMs(mainnet.min, sf12).toFixed(1), +airtime.toFixed(1)],
    dutyCycleWindowS: +(airtime / dutyCycle / 1000).toFixed(1),
    tipsPerHourAtBudget: Math.floor((3_600_000 * dutyCycle) / airtime),
    note: 'one tip frame per window of airtime/0.01; the limiter counts a rolling hour (36 s of airtime at 1%), so tips are never held back at one per 10-minute block',
  };

  // One real send: node -> beacon gateway -> sim air (SF12 airtime in real time) -> receive-only
  // gateway -> node, with the SF12, 1% limiter in the beacon's link child.
  const net = NETWORKS.regtest;
  const [h1] = mineRegtest(1);
  const air = new SimAir({ loss: 0, lora: sf12 });
  const airPort = await air.start();
  let beacon: Gateway | undefined;
  let receiver: Gateway | undefined;
  const nodeB = new RawNodePeer(net);
  const nodeA = new RawNodePeer(net);
  try {
    beacon = await startTestGateway({
      network: net,
      mode: 'beacon',
      links: [simLink('lora', airPort, 'tx', 12, String(dutyCycle))],
      log: silentLogger(),
    });
    receiver = await startTestGateway({
      network: net,
      mode: 'receive-only',
      links: [simLink('lora', airPort, 'rx', 12, String(dutyCycle))],
      log: silentLogger(),
    });
    const b = beacon;
    const r = receiver;
    await Promise.all([nodeB.connect(b.nodePort), nodeA.connect(r.nodePort)]);
    await Promise.all([nodeB.ready, nodeA.ready]);
    await until(
      'both links up and on the air',
      () => b.link('lora')?.state === 'up' && r.link('lora')?.state === 'up' && air.stats.members >= 2,
      15_000,
    );
    await sleep(300);
    const framesBefore = air.stats.frames;
    const arrived = nodeA.nextHeaders(30_000);
    const sentAt = performance.now();
    nodeB.announce([h1]);
    const a = await arrived;
    const endToEndMs = a.at - sentAt;
    if (!equalBytes(a.headers[0], h1)) throw new Error('the receiving node got a different header');
    // Drivers report their counters every 2 s.
    await until(
      'driver counters',
      () => (r.status().links[0].counters.tips_rx ?? 0) > 0 && (b.status().links[0].counters.frames_tx ?? 0) > 0,
      5000,
    );
    const bc = b.status().links[0].counters;
    const rc = r.status().links[0].counters;
    const frames = air.stats.frames - framesBefore;
    return {
      computed,
      realSend: {
        delivered: true,
        packetsOnAir: frames,
        bytesOnAir: air.stats.bytes,
        simAirtimeMs: +air.stats.airtimeMs.toFixed(1),
        endToEndMs: +endToEndMs.toFixed(1),
        withinOneDutyCycleWindow: frames === 1 && endToEndMs < computed.dutyCycleWindowS * 1000,
        beaconLink: {
          frames_tx: bc.frames_tx,
          bytes_tx: bc.bytes_tx,
          tips_tx: bc.tips_tx,
          frames_deferred: bc.frames_deferred ?? 0,
          airtime_ms: bc.airtime_ms,
        },
        receiverLink: { frames_rx: rc.frames_rx, bytes_rx: rc.bytes_rx, tips_rx: rc.tips_rx },
        setup:
          'raw peer announces header 1 to a regtest beacon gateway; its sim tx link (sf=12, dutycycle=0.01) sends the tip; SimAir delays it by its SF12 airtime (real time); a receive-only gateway (sim rx link) passes it to a second raw peer',
      },
      target: '<= 51 bytes, one packet, within one duty-cycle window',
    };
  } finally {
    nodeA.close();
    nodeB.close();
    await Promise.all([beacon?.stop(), receiver?.stop()]);
    await air.close();
  }
}

export async function bench(): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const parts: Array<[string, () => Promise<Record<string, unknown>>]> = [
    ['frameToNodeMs', () => frameToNode('direct', SAMPLES)],
    ['frameToNodeViaSimAirMs', () => frameToNode('simAir', 100)],
    ['gatewayRssMB', gatewayRss],
    ['loraTipDelivery', loraTip],
  ];
  for (const [name, run] of parts) {
    try {
      out[name] = await run();
    } catch (err) {
      out[name] = { error: err instanceof Error ? err.message : String(err) };
    }
  }
  return out;
}
