// A simulated LoRa medium on loopback UDP, for the demo and tests, physically honest (issue 17):
// - a transmitter sends one frame at a time: a frame occupies the air for its LoRa airtime, and a
//   frame a member hands over while its previous one is still on air starts when that one ends
//   (the radio's own FIFO); the member gets 'D' (TX done) when its frame has left the air, the
//   way a modem reports the end of a transmission, so its driver paces itself on real airtime;
// - frames of different transmitters that overlap in time collide: every receiver loses both
//   (no capture effect, the pessimistic case for same-SF LoRa);
// - a member that is transmitting hears nothing (half duplex);
// - otherwise each receiver misses a frame with probability `loss`, independently.
// Datagrams from members: 'J' (join, refreshed) or 'F' + frame; to members: 'F' + frame, 'D'.
// Members reach the air over loopback UDP (start), or in the same process (connect: the bench
// and tests run hours of SF12 air on a virtual clock, given as `clock`).
import { createSocket, type Socket } from 'node:dgram';
import { loraAirtimeMs, type LoraAirtimeParams } from '../radio/airtime.js';
import type { Clock, TimerHandle } from '../../util/clock.js';
import type { ByteChannel } from '../radio/channel.js';

export interface SimAirOptions {
  /** Share of frames each receiver misses, 0..1 (independent per receiver). */
  loss: number;
  lora: LoraAirtimeParams;
  /** Airtime of a frame of `bytes`, ms, for another modulation (AFSK 1200); default LoRa's with `lora`. */
  airtimeOf?: (bytes: number) => number;
  /** Largest frame the air carries (default 255, LoRa's; AX.25 carries 256). */
  maxFrameBytes?: number;
  /** Sim time and timers; when given, speedup and nowMs are not used. */
  clock?: Clock;
  port?: number;
  /** Uniform [0,1) source; tests and the demo pass a seeded one for repeatable runs. */
  random?: () => number;
  /** How much faster than real time the air runs (airtime delays are divided by it). */
  speedup?: number;
  /** Time source in ms (tests); defaults to performance.now(). */
  nowMs?: () => number;
}

export interface SimAirStats {
  frames: number;
  bytes: number;
  airtimeMs: number;
  delivered: number;
  lost: number;
  /** Frames lost to an overlapping frame of another transmitter (each counted once). */
  collided: number;
  /** Frames a member handed over while its previous frame was still on air (queued behind it). */
  queuedBehindOwn: number;
  members: number;
}

/** Datagram tags. */
export const AIR_JOIN = 0x4a;
export const AIR_FRAME = 0x46;
export const AIR_TX_DONE = 0x44;
const TIMER_SLACK_MS = 2;

const MEMBER_TTL_MS = 30_000;

interface OnAir {
  from: string;
  start: number;
  end: number;
  collided: boolean;
}

export class SimAir {
  private socket: Socket | undefined;
  private readonly members = new Map<string, { send: (msg: Uint8Array) => void; seen: number }>();
  private readonly timers = new Set<TimerHandle>();
  private nextMember = 0;
  /** Frames on air now or scheduled (sim time, ms), oldest first. */
  private onAir: OnAir[] = [];
  /** When each member's transmitter is free again (sim time, ms). */
  private readonly busyUntil = new Map<string, number>();
  readonly stats: SimAirStats = { frames: 0, bytes: 0, airtimeMs: 0, delivered: 0, lost: 0, collided: 0, queuedBehindOwn: 0, members: 0 };

  constructor(private readonly opts: SimAirOptions) {
    if (!(opts.loss >= 0 && opts.loss < 1)) throw new RangeError(`loss must be in [0, 1), got ${opts.loss}`);
    if (opts.speedup !== undefined && !(opts.speedup > 0)) throw new RangeError(`speedup must be > 0, got ${opts.speedup}`);
  }

  /** Binds 127.0.0.1 and resolves with the port members should use. */
  async start(): Promise<number> {
    const socket = createSocket('udp4');
    this.socket = socket;
    socket.on('message', (msg, rinfo) =>
      this.onDatagram(new Uint8Array(msg), String(rinfo.port), (m) => this.socket?.send(m, rinfo.port, '127.0.0.1')),
    );
    await new Promise<void>((resolve) => socket.bind(this.opts.port ?? 0, '127.0.0.1', resolve));
    return socket.address().port;
  }

  /** A member in this process: the channel a SimTransport opens instead of a UDP socket. */
  connect(): ByteChannel {
    const key = `mem${this.nextMember++}`;
    const dataHandlers: Array<(c: Uint8Array) => void> = [];
    let open = true;
    return {
      description: `sim:in-process:${key}`,
      write: async (data) => {
        if (open) this.onDatagram(data.slice(), key, (m) => open && dataHandlers.forEach((h) => h(m)));
      },
      close: async () => {
        open = false;
        this.members.delete(key);
      },
      onData: (h) => dataHandlers.push(h),
      onClose: () => {},
    };
  }

  async close(): Promise<void> {
    for (const t of this.timers) t.cancel();
    this.timers.clear();
    const s = this.socket;
    this.socket = undefined;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }

  /** Air time in ms: real time times the speed-up. */
  private now(): number {
    if (this.opts.clock) return this.opts.clock.nowMs();
    return (this.opts.nowMs ?? (() => performance.now()))() * (this.opts.speedup ?? 1);
  }

  private later(simMs: number, fn: () => void): void {
    const run = () => {
      this.timers.delete(handle);
      fn();
    };
    let handle: TimerHandle;
    if (this.opts.clock) handle = this.opts.clock.after(Math.max(0, simMs), run);
    else {
      const t = setTimeout(run, Math.max(0, simMs) / (this.opts.speedup ?? 1));
      handle = { cancel: () => clearTimeout(t) };
    }
    this.timers.add(handle);
  }

  private airtime(bytes: number): number {
    return this.opts.airtimeOf ? this.opts.airtimeOf(bytes) : loraAirtimeMs(bytes, this.opts.lora);
  }

  private onDatagram(msg: Uint8Array, key: string, reply: (m: Uint8Array) => void): void {
    const wall = this.opts.clock ? this.opts.clock.nowMs() : Date.now();
    this.members.set(key, { send: reply, seen: wall });
    for (const [k, m] of this.members) if (wall - m.seen > MEMBER_TTL_MS) this.members.delete(k);
    this.stats.members = this.members.size;
    if (msg[0] !== AIR_FRAME || msg.length < 2 || msg.length > 1 + (this.opts.maxFrameBytes ?? 255)) return;
    const frameLen = msg.length - 1;
    const airtime = this.airtime(frameLen);
    const now = this.now();
    const free = this.busyUntil.get(key) ?? 0;
    // Node's timers may fire up to a millisecond before their due time, so a member answering its
    // own TX-done at once can arrive a fraction of a millisecond early: that is not queueing.
    if (free > now + TIMER_SLACK_MS) this.stats.queuedBehindOwn++;
    const start = Math.max(now, free);
    const tx: OnAir = { from: key, start, end: start + airtime, collided: false };
    this.busyUntil.set(key, tx.end);
    this.onAir = this.onAir.filter((o) => o.end > now - 60_000); // kept a while for the half-duplex check
    for (const o of this.onAir) {
      if (o.from !== key && o.start < tx.end && tx.start < o.end) {
        if (!o.collided) this.stats.collided++;
        if (!tx.collided) this.stats.collided++;
        o.collided = tx.collided = true;
      }
    }
    this.onAir.push(tx);
    this.stats.frames++;
    this.stats.bytes += frameLen;
    this.stats.airtimeMs += airtime;
    this.later(tx.end - now, () => {
      reply(Uint8Array.of(AIR_TX_DONE));
      if (tx.collided) {
        this.stats.lost += Math.max(0, this.members.size - 1);
        return;
      }
      const random = this.opts.random ?? Math.random;
      for (const [k, m] of this.members) {
        if (k === key) continue;
        // Half duplex: a member whose own frame overlapped this one heard nothing of it.
        const deaf = this.onAir.some((o) => o.from === k && o.start < tx.end && tx.start < o.end);
        if (deaf || random() < this.opts.loss) {
          this.stats.lost++;
          continue;
        }
        this.stats.delivered++;
        m.send(msg);
      }
    });
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
