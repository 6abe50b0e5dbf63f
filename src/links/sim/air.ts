// A simulated LoRa medium on loopback UDP, for the demo and tests: every frame a member
// transmits reaches every other member after its LoRa airtime, unless the channel loses it.
// Datagrams: 'J' (join, refreshed by members) or 'F' + frame.
import { createSocket, type Socket } from 'node:dgram';
import { loraAirtimeMs, type LoraAirtimeParams } from '../radio/airtime.js';

export interface SimAirOptions {
  /** Share of frames each receiver misses, 0..1 (independent per receiver). */
  loss: number;
  lora: LoraAirtimeParams;
  port?: number;
  /** Uniform [0,1) source; tests and the demo pass a seeded one for repeatable runs. */
  random?: () => number;
  /** How much faster than real time the air runs (airtime delays are divided by it). */
  speedup?: number;
}

export interface SimAirStats {
  frames: number;
  bytes: number;
  airtimeMs: number;
  delivered: number;
  lost: number;
  members: number;
}

const MEMBER_TTL_MS = 30_000;

export class SimAir {
  private socket: Socket | undefined;
  private readonly members = new Map<string, { port: number; seen: number }>();
  private readonly timers = new Set<NodeJS.Timeout>();
  readonly stats: SimAirStats = { frames: 0, bytes: 0, airtimeMs: 0, delivered: 0, lost: 0, members: 0 };

  constructor(private readonly opts: SimAirOptions) {
    if (!(opts.loss >= 0 && opts.loss < 1)) throw new RangeError(`loss must be in [0, 1), got ${opts.loss}`);
  }

  /** Binds 127.0.0.1 and resolves with the port members should use. */
  async start(): Promise<number> {
    const socket = createSocket('udp4');
    this.socket = socket;
    socket.on('message', (msg, rinfo) => this.onDatagram(new Uint8Array(msg), rinfo.port));
    await new Promise<void>((resolve) => socket.bind(this.opts.port ?? 0, '127.0.0.1', resolve));
    return socket.address().port;
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const s = this.socket;
    this.socket = undefined;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }

  private onDatagram(msg: Uint8Array, fromPort: number): void {
    const now = Date.now();
    const key = String(fromPort);
    this.members.set(key, { port: fromPort, seen: now });
    for (const [k, m] of this.members) if (now - m.seen > MEMBER_TTL_MS) this.members.delete(k);
    this.stats.members = this.members.size;
    if (msg[0] !== 0x46 || msg.length < 2 || msg.length > 256) return;
    const frameLen = msg.length - 1;
    const airtime = loraAirtimeMs(frameLen, this.opts.lora);
    this.stats.frames++;
    this.stats.bytes += frameLen;
    this.stats.airtimeMs += airtime;
    const random = this.opts.random ?? Math.random;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      for (const [k, m] of this.members) {
        if (k === key) continue;
        if (random() < this.opts.loss) {
          this.stats.lost++;
          continue;
        }
        this.stats.delivered++;
        this.socket?.send(msg, m.port, '127.0.0.1');
      }
    }, airtime / (this.opts.speedup ?? 1));
    this.timers.add(timer);
  }
}

/** A small seeded PRNG (mulberry32), so a lossy run can be repeated exactly. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
