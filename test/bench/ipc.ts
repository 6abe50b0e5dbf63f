// Driver IPC figures (issue 18): the CBOR IPC of src/gateway/ipc.ts against the JSON-with-hex IPC
// it replaced (test/bench/ref/ipc-json.ts), in the same run. Each message is framed, then fed
// to the decoder in 64 KiB chunks (what a pipe delivers) and, where it is a real message,
// validated by the parent's parser. The 8 MB payload shows the decoder is linear: the reference
// re-joins its whole buffer on every chunk, which turns quadratic.
import * as cbor from '../../src/gateway/ipc.js';
import * as ref from './ref/ipc-json.js';

const CHUNK = 65536;

interface Impl {
  frameMessage(msg: cbor.ChildMessage): Uint8Array;
  decoder(max: number): { push(chunk: Uint8Array): unknown[] };
  parseChildMessage(v: unknown): cbor.ChildMessage;
}

const NEW: Impl = {
  frameMessage: cbor.frameMessage,
  decoder: (max) => new cbor.IpcDecoder(max),
  parseChildMessage: cbor.parseChildMessage,
};
// The reference predates the block request messages (hash, block-missing): same shapes otherwise.
const REF: Impl = {
  frameMessage: ref.frameMessage as unknown as Impl['frameMessage'],
  decoder: (max) => new ref.IpcDecoder(max),
  parseChildMessage: ref.parseChildMessage as unknown as Impl['parseChildMessage'],
};

/**
 * Over reps of: frame, push in chunks, (parse): the median wall ms, the best CPU ms (steadier on
 * the shared machine: the linearity check uses it) and the framed size.
 */
function cross(
  impl: Impl,
  msg: cbor.ChildMessage,
  opts: { reps: number; max: number; parse: boolean },
): { ms: number; cpuMs: number; bytes: number } {
  const times: number[] = [];
  let cpuMs = Infinity;
  let bytes = 0;
  for (let r = 0; r < opts.reps; r++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const framed = impl.frameMessage(msg);
    bytes = framed.length;
    const d = impl.decoder(opts.max);
    const out: unknown[] = [];
    for (let o = 0; o < framed.length; o += CHUNK) out.push(...d.push(framed.subarray(o, o + CHUNK)));
    if (out.length !== 1) throw new Error(`IPC bench: ${out.length} messages decoded, expected 1`);
    if (opts.parse) impl.parseChildMessage(out[0]);
    times.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpuMs = Math.min(cpuMs, (c.user + c.system) / 1000);
  }
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(times.length / 2)], cpuMs, bytes };
}

function compare(
  name: string,
  msg: cbor.ChildMessage,
  opts: { reps: number; refReps?: number; max: number; parse: boolean },
): Record<string, unknown> {
  const a = cross(NEW, msg, opts);
  const b = cross(REF, msg, { ...opts, reps: opts.refReps ?? opts.reps, max: opts.max * 2 + 1024 });
  return {
    message: name,
    bytes: a.bytes,
    refBytes: b.bytes,
    ms: +a.ms.toFixed(2),
    refMs: +b.ms.toFixed(2),
    cpuMs: +a.cpuMs.toFixed(2),
    refCpuMs: +b.cpuMs.toFixed(2),
    speedup: +(b.ms / a.ms).toFixed(1),
    sizeRatio: +(a.bytes / b.bytes).toFixed(3),
  };
}

function filled(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 2654435761) >>> 24;
  return b;
}

export async function bench(): Promise<Record<string, unknown>> {
  const headers = Array.from({ length: 2000 }, (_, i) => filled(80 + i).subarray(i, i + 80));
  const results = [
    compare('headers x2000', { t: 'headers', headers }, { reps: 15, max: cbor.DEFAULT_MAX_IPC_MESSAGE, parse: true }),
    compare('tx 400 kB', { t: 'tx', raw: filled(400_000) }, { reps: 15, max: cbor.DEFAULT_MAX_IPC_MESSAGE, parse: true }),
    compare(
      'block 4 MB',
      { t: 'block', hash: filled(32), raw: filled(4_000_000) },
      { reps: 5, max: cbor.DEFAULT_MAX_IPC_MESSAGE, parse: true },
    ),
    // Larger than any block (a block is at most 4,000,000 bytes serialized, and the parser caps
    // it there): framing and decoding only. 1 MB and 8 MB the same way show the decoder linear.
    compare(
      'payload 1 MB',
      { t: 'block', hash: filled(32), raw: filled(1_000_000) },
      { reps: 15, refReps: 3, max: 8_100_000, parse: false },
    ),
    compare(
      'payload 8 MB',
      { t: 'block', hash: filled(32), raw: filled(8_000_000) },
      { reps: 9, refReps: 3, max: 8_100_000, parse: false },
    ),
  ];
  const byName = (n: string) =>
    results.find((r) => r.message === n) as { ms: number; refMs: number; cpuMs: number; refCpuMs: number; speedup: number };
  const p1 = byName('payload 1 MB');
  const p8 = byName('payload 8 MB');
  // Linear: 8x the input takes about 8x the CPU; quadratic would take 64x. The line is drawn at
  // 22.6x (sqrt(8 * 64)), halfway on a log scale; measured 7.6-12.5x, the JSON reference 39-51x. It was 2 MB against 8 MB with the line at 8x
  // (halfway between 4x and 16x), but a 2 MB decode takes ~0.4 ms of CPU, so noise on this shared
  // machine moved the linear decoder's ratio from 5.4 to 8.5 between runs of one build (npm run
  // --silent bench -- ipc alone: 5.4/6.8/6.1; inside `coldstart fec ipc memory chain`: 8.5).
  const growth = +(p8.cpuMs / p1.cpuMs).toFixed(1);
  return {
    summary: {
      target: 'binary IPC (CBOR) with a decoder linear in its input; an 8 MB payload moved across it',
      measured: {
        ms8MB: p8.ms,
        refMs8MB: p8.refMs,
        speedup8MB: p8.speedup,
        cpu8MBOver1MB: growth,
        refCpu8MBOver1MB: +(p8.refCpuMs / p1.refCpuMs).toFixed(1),
      },
      met: growth <= 22.6 && p8.speedup > 1,
    },
    transport: `framed, then decoded from ${CHUNK}-byte chunks; ms: median wall, cpuMs: best CPU; reference = JSON with hex (before issue 18)`,
    messages: results,
  };
}
