// BIP324 v2 transport figures: handshake time for a full in-process initiator<->responder
// handshake, and throughput encrypting + decrypting 1 MB of messages in two shapes.
import { loadavg } from 'node:os';
import { NETWORKS } from '../../src/chain/networks.js';
import type { AeadBackend } from '../../src/node/v2/cipher.js';
import { V2Session } from '../../src/node/v2/session.js';

const MAGIC = NETWORKS.regtest.magic;

function handshake(aead: AeadBackend = 'noble'): { a: V2Session; b: V2Session } {
  const a = new V2Session({ magic: MAGIC, role: 'initiator', aead });
  const b = new V2Session({ magic: MAGIC, role: 'responder', aead });
  b.start();
  const r1 = b.receive(a.start());
  const r2 = a.receive(Buffer.concat(r1.send));
  b.receive(Buffer.concat(r2.send));
  if (a.state !== 'ready' || b.state !== 'ready') throw new Error('handshake did not complete');
  return { a, b };
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)];
}

/** Encrypts `count` messages of `size` bytes on one side and decrypts them on the other. */
/** Wall-clock and CPU-time figures: on a shared machine the CPU-time one is the steadier. */
function throughput(aead: AeadBackend, count: number, size: number, rounds: number) {
  const { a, b } = handshake(aead);
  const payload = new Uint8Array(size).fill(0x5a);
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    let got = 0;
    for (let i = 0; i < count; i++) got += b.receive(a.encodeMessage('tx', payload)).messages.length;
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    if (got !== count) throw new Error(`decoded ${got} of ${count} messages`);
  }
  const mb = (count * size) / 1e6;
  const ms = median(wall);
  const cpuMs = Math.max(median(cpu), 0.001);
  return {
    mbPerSec: +(mb / (ms / 1000)).toFixed(1),
    msPerMB: +(ms / mb).toFixed(2),
    mbPerCpuSec: +(mb / (cpuMs / 1000)).toFixed(1),
  };
}

export async function bench(): Promise<Record<string, unknown>> {
  handshake(); // warm up the curve code
  const hs: number[] = [];
  for (let i = 0; i < 30; i++) {
    const t0 = performance.now();
    handshake();
    hs.push(performance.now() - t0);
  }
  return {
    loadAverage1m: +loadavg()[0].toFixed(2),
    handshakeMedianMs: +median(hs).toFixed(2),
    handshakeMaxMs: +Math.max(...hs).toFixed(2),
    // Each figure: 1 MB of payload encrypted by one session and decrypted by its peer.
    noble_1000x1KB: throughput('noble', 1000, 1000, 5),
    noble_1x1MB: throughput('noble', 1, 1_000_000, 5),
    node_1000x1KB: throughput('node', 1000, 1000, 5),
    node_1x1MB: throughput('node', 1, 1_000_000, 5),
  };
}
