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

/** Median over reps of: frame, push in chunks, (parse); returns ms and the framed size. */
function cross(impl: Impl, msg: cbor.ChildMessage, opts: { reps: number; max: number; parse: boolean }): { ms: number; bytes: number } {
  const times: number[] = [];
  let bytes = 0;
  for (let r = 0; r < opts.reps; r++) {
    const t0 = performance.now();
    const framed = impl.frameMessage(msg);
    bytes = framed.length;
    const d = impl.decoder(opts.max);
    const out: unknown[] = [];
    for (let o = 0; o < framed.length; o += CHUNK) out.push(...d.push(framed.subarray(o, o + CHUNK)));
    if (out.length !== 1) throw new Error(`IPC bench: ${out.length} messages decoded, expected 1`);
    if (opts.parse) impl.parseChildMessage(out[0]);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(times.length / 2)], bytes };
}

function compare(name: string, msg: cbor.ChildMessage, opts: { reps: number; max: number; parse: boolean }): Record<string, unknown> {
  const a = cross(NEW, msg, opts);
  const b = cross(REF, msg, { ...opts, max: opts.max * 2 + 1024 });
  return {
    message: name,
    bytes: a.bytes,
    refBytes: b.bytes,
    ms: +a.ms.toFixed(2),
    refMs: +b.ms.toFixed(2),
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
    // Larger than any block: framing and decoding only (the parser caps a block at 4 MB).
    compare('payload 8 MB', { t: 'block', hash: filled(32), raw: filled(8_000_000) }, { reps: 3, max: 8_100_000, parse: false }),
  ];
  return {
    transport: `framed, then decoded from ${CHUNK}-byte chunks; median ms; reference = JSON with hex (before issue 18)`,
    messages: results,
  };
}
