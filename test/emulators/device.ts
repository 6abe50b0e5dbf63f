// Base of the board emulators: opens the far end of a pty with the real serialport and speaks
// the device's protocol. `onAir` sees what the device would transmit; `receiveFromAir` makes it
// report a received packet. `linkByAir` joins two emulators into a lossy radio channel.
// Imports nothing from src/: the far end of the pty is opened here with the `serialport` package
// itself, not through the drivers' channel code.
import type { SerialPort } from 'serialport';
import { closeFarEnd, openFarEnd } from './pty.js';

export abstract class DeviceEmulator {
  private serial: SerialPort | undefined;
  /** Payloads the device put on the air. */
  readonly transmitted: Uint8Array[] = [];
  onAir: ((payload: Uint8Array) => void) | undefined;
  /** Packets that reached the antenna while the receiver was off (not listening). */
  missed = 0;

  /** Opens the far end of the pty (openFarEnd: 8N1, no flow control). */
  async start(path: string, baudRate = 115200): Promise<this> {
    this.serial = await openFarEnd(path, baudRate, (c) => this.onBytes(c));
    return this;
  }

  async stop(): Promise<void> {
    const port = this.serial;
    this.serial = undefined;
    await closeFarEnd(port);
  }

  protected abstract onBytes(chunk: Uint8Array): void;
  /** The radio heard `payload`; report it to the host as this device would. */
  abstract receiveFromAir(payload: Uint8Array): void;

  protected send(bytes: Uint8Array | string): void {
    const b = typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes;
    const port = this.serial;
    if (!port?.isOpen) return;
    port.write(Buffer.from(b), (err) => {
      if (!err) port.drain(() => undefined);
    });
  }

  protected airTx(payload: Uint8Array): void {
    this.transmitted.push(payload);
    this.onAir?.(payload);
  }
}

/** Deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Forwards each transmission of one emulator to the other, dropping a share `loss` of them. */
export function linkByAir(a: DeviceEmulator, b: DeviceEmulator, loss = 0, seed = 1): { delivered: number; dropped: number; loss: number } {
  const rand = prng(seed);
  const stats = { delivered: 0, dropped: 0, loss };
  const forward = (to: DeviceEmulator) => (p: Uint8Array) => {
    if (rand() < stats.loss) stats.dropped++;
    else {
      stats.delivered++;
      to.receiveFromAir(p);
    }
  };
  a.onAir = forward(b);
  b.onAir = forward(a);
  return stats;
}

/** Splits a byte stream into CR/LF-terminated lines (emulator side; bounded). */
export class EmuLines {
  private buf = '';
  push(chunk: Uint8Array): string[] {
    this.buf += Buffer.from(chunk).toString('latin1');
    const parts = this.buf.split(/\r?\n/);
    this.buf = parts.pop()!.slice(-4096);
    return parts.filter((l) => l.length > 0);
  }
}
