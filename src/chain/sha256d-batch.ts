// Double SHA-256 of a batch of 80-byte block headers in one call, in a small WebAssembly module
// this file assembles (no toolchain, no binary blob: the instruction bytes are written below).
//
// Why (issue 18, cold start; test/bench/coldstart.ts): the JavaScript sha256d80 runs its first
// headers in V8's interpreter (~100 us per header at first, ~1.2 us once optimised), and every
// fresh process pays for that before its first validation is fast. WebAssembly is compiled to
// machine code (Liftoff, ~10 us per header here) when the module is compiled, and V8 recompiles
// the function with its optimising compiler in the background after the first batch (~0.75 us per
// header). Measured, the 8,065 shared headers hashed in a fresh process: 7.5 ms for the first
// pass, 6.3 ms warm; sha256d80 13.3 and 9.7 ms (main-thread CPU). One call hashes a batch, so the
// JS-to-wasm call costs nothing per header. Every digest is cross-checked against @noble/hashes
// in test/chain/sha256d.test.ts.
//
// Rounds in a loop, the message schedule and round constants in the module's memory (FIPS 180-4
// 6.2.2). Measured: fully unrolled rounds (variables renamed instead of moved, padding words
// folded) ran no faster once optimised, and their optimising compile took ~22 ms instead of ~5,
// so the first pass took 10-12 ms instead of 7.5.
import { SHA256_IV, SHA256_K } from './sha256d.js';
import { ConfigError } from '../util/errors.js';

/**
 * Headers per call. Small enough that the batch running when V8's optimised code arrives is
 * short (measured: 16 to 128 made no difference to a cold start), large enough for one call to
 * cost nothing per header.
 */
export const HASH_BATCH = 64;
// Memory layout (one 64 KiB page): round constants, message schedule, headers in, digests out.
const K_OFFSET = 0;
const W_OFFSET = 256;
const IN_OFFSET = 512;
const OUT_OFFSET = IN_OFFSET + HASH_BATCH * 80;

// ---- a minimal WebAssembly assembler (binary format, WebAssembly Core Specification 5) ----

const I32 = 0x7f;
const OP = {
  block: 0x02,
  loop: 0x03,
  br: 0x0c,
  brIf: 0x0d,
  end: 0x0b,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  load: 0x28,
  store: 0x36,
  const: 0x41,
  eqz: 0x45,
  ne: 0x47,
  add: 0x6a,
  sub: 0x6b,
  and: 0x71,
  or: 0x72,
  xor: 0x73,
  shl: 0x74,
  shrU: 0x76,
  rotl: 0x77,
  rotr: 0x78,
} as const;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  n |= 0;
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

/**
 * Emits the body of `hash(n)`: for each of n headers at IN_OFFSET (80 bytes apart), its double
 * SHA-256 to OUT_OFFSET (32 bytes apart), in internal byte order (big-endian digest words).
 */
function assembleBody(): number[] {
  const c: number[] = [];
  // Locals: 0 = n (the parameter), p and q (input and output offsets), x (4 * round), a..h,
  // the chaining values, t1 and t2.
  let next = 1;
  const p = next++;
  const q = next++;
  const x = next++;
  const work = Array.from({ length: 8 }, () => next++);
  const chain = Array.from({ length: 8 }, () => next++);
  const t1 = next++;
  const t2 = next++;
  const localCount = next - 1;
  const get = (l: number) => [OP.localGet, ...uleb(l)];
  const set = (l: number) => [OP.localSet, ...uleb(l)];
  const k = (v: number) => [OP.const, ...sleb(v)];
  const rotr = (code: number[], n: number) => [...code, ...k(n), OP.rotr];
  const bswap = (code: number[]) => [
    ...code,
    ...k(0xff00ff00),
    OP.and,
    ...k(8),
    OP.shrU,
    ...code,
    ...k(0x00ff00ff),
    OP.and,
    ...k(8),
    OP.shl,
    OP.or,
    ...k(16),
    OP.rotl,
  ];
  const loadAt = (base: number[], offset: number) => [...base, OP.load, 2, ...uleb(offset)];
  const storeW = (i: number, value: number[]) => c.push(...k(0), ...value, OP.store, 2, ...uleb(W_OFFSET + 4 * i));
  /** One compression from `start` (code per working variable) over `msg` (code per message word); leaves a..h in `work`. */
  const compress = (start: number[][], msg: number[][]) => {
    for (let i = 0; i < 16; i++) storeW(i, msg[i]);
    for (let i = 0; i < 8; i++) c.push(...start[i], ...set(work[i]));
    // Schedule: x = 4i for i = 16..63.
    c.push(...k(64), ...set(x), OP.loop, 0x40);
    const w = (back: number) => loadAt(get(x), W_OFFSET - 4 * back);
    const s0 = [...rotr(w(15), 7), ...rotr(w(15), 18), OP.xor, ...w(15), ...k(3), OP.shrU, OP.xor];
    const s1 = [...rotr(w(2), 17), ...rotr(w(2), 19), OP.xor, ...w(2), ...k(10), OP.shrU, OP.xor];
    c.push(...get(x), ...s1, ...w(7), OP.add, ...s0, OP.add, ...w(16), OP.add, OP.store, 2, ...uleb(W_OFFSET));
    c.push(...get(x), ...k(4), OP.add, OP.localTee, ...uleb(x), ...k(256), OP.ne, OP.brIf, 0, OP.end);
    // Rounds: x = 4i for i = 0..63.
    c.push(...k(0), ...set(x), OP.loop, 0x40);
    {
      const [a, b, cc, d, e, f, g, h] = work;
      const bigSigma1 = [...rotr(get(e), 6), ...rotr(get(e), 11), OP.xor, ...rotr(get(e), 25), OP.xor];
      const ch = [...get(g), ...get(e), ...get(f), ...get(g), OP.xor, OP.and, OP.xor];
      // t1 = h + Σ1(e) + Ch(e, f, g) + K[i] + W[i]; Ch = g ^ (e & (f ^ g))
      c.push(
        ...get(h),
        ...bigSigma1,
        OP.add,
        ...ch,
        OP.add,
        ...loadAt(get(x), K_OFFSET),
        OP.add,
        ...loadAt(get(x), W_OFFSET),
        OP.add,
        ...set(t1),
      );
      const bigSigma0 = [...rotr(get(a), 2), ...rotr(get(a), 13), OP.xor, ...rotr(get(a), 22), OP.xor];
      const maj = [...get(a), ...get(b), OP.and, ...get(cc), ...get(a), ...get(b), OP.or, OP.and, OP.or];
      // t2 = Σ0(a) + Maj(a, b, c); Maj = (a & b) | (c & (a | b))
      c.push(...bigSigma0, ...maj, OP.add, ...set(t2));
      // h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2
      c.push(...get(g), ...set(h), ...get(f), ...set(g), ...get(e), ...set(f), ...get(d), ...get(t1), OP.add, ...set(e));
      c.push(...get(cc), ...set(d), ...get(b), ...set(cc), ...get(a), ...set(b), ...get(t1), ...get(t2), OP.add, ...set(a));
    }
    c.push(...get(x), ...k(4), OP.add, OP.localTee, ...uleb(x), ...k(256), OP.ne, OP.brIf, 0, OP.end);
  };
  const iv = Array.from(SHA256_IV, (v) => k(v));
  c.push(OP.block, 0x40, OP.loop, 0x40);
  c.push(...get(0), OP.eqz, OP.brIf, 1);
  compress(
    iv,
    Array.from({ length: 16 }, (_, i) => bswap(loadAt(get(p), IN_OFFSET + 4 * i))),
  );
  for (let i = 0; i < 8; i++) c.push(...get(work[i]), ...k(SHA256_IV[i]), OP.add, ...set(chain[i]));
  compress(chain.map(get), [
    ...Array.from({ length: 4 }, (_, i) => bswap(loadAt(get(p), IN_OFFSET + 64 + 4 * i))),
    k(0x80000000 | 0),
    ...Array.from({ length: 10 }, () => k(0)),
    k(640),
  ]);
  for (let i = 0; i < 8; i++) c.push(...get(chain[i]), ...get(work[i]), OP.add, ...set(chain[i]));
  compress(iv, [...chain.map(get), k(0x80000000 | 0), ...Array.from({ length: 6 }, () => k(0)), k(256)]);
  for (let i = 0; i < 8; i++) {
    c.push(...get(q), ...bswap([...get(work[i]), ...k(SHA256_IV[i]), OP.add]), OP.store, 2, ...uleb(OUT_OFFSET + 4 * i));
  }
  c.push(...get(p), ...k(80), OP.add, ...set(p));
  c.push(...get(q), ...k(32), OP.add, ...set(q));
  c.push(...get(0), ...k(1), OP.sub, ...set(0));
  c.push(OP.br, 0, OP.end, OP.end, OP.end);
  return [1, ...uleb(localCount), I32, ...c];
}

function assembleModule(): Uint8Array {
  const body = assembleBody();
  const name = (s: string) => [...uleb(s.length), ...Array.from(s, (ch) => ch.charCodeAt(0))];
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, [1, 0x60, 1, I32, 0]), // type 0: (i32) -> ()
    ...section(3, [1, 0]), // function 0 has type 0
    ...section(5, [1, 0x00, 1]), // one memory, at least 1 page
    ...section(7, [2, ...name('memory'), 0x02, 0, ...name('hash'), 0x00, 0]),
    ...section(10, [1, ...uleb(body.length), ...body]),
  ]);
}

/** The part of the WebAssembly JS API used here (TypeScript's ES and Node libs do not declare it). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: { memory: { buffer: ArrayBuffer }; hash: (n: number) => void } };
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
let compiled: object | undefined;

/**
 * Hashes headers in batches of up to HASH_BATCH into its own 64 KiB of module memory (the
 * compiled module is shared). HeaderChain uses the process's one instance, sharedHeaderHasher().
 */
export class HeaderBatchHasher {
  /** The digests of the last batch: header i's at i * 32, internal byte order. */
  readonly digests: Uint8Array;
  /** The same as 32-bit words in platform order: header i's at i * 8. */
  readonly digestWords: Uint32Array;
  /** The last batch's headers as 32-bit words in platform order: header i's at i * 20. */
  readonly inputWords: Uint32Array;
  private readonly input: Uint8Array;
  private readonly run: (n: number) => void;

  constructor() {
    // The word views are read as little-endian uint32 fields (the header's and readU32LE's order).
    if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
      throw new ConfigError('big-endian-unsupported', 'the header chain needs a little-endian CPU (x86, ARM, RISC-V as Node runs them)');
    }
    compiled ??= new wasm.Module(assembleModule());
    const { memory, hash } = new wasm.Instance(compiled).exports;
    this.input = new Uint8Array(memory.buffer, IN_OFFSET, HASH_BATCH * 80);
    this.digests = new Uint8Array(memory.buffer, OUT_OFFSET, HASH_BATCH * 32);
    this.digestWords = new Uint32Array(memory.buffer, OUT_OFFSET, HASH_BATCH * 8);
    this.inputWords = new Uint32Array(memory.buffer, IN_OFFSET, HASH_BATCH * 20);
    this.run = hash;
    new Int32Array(memory.buffer, K_OFFSET, 64).set(SHA256_K);
  }

  /**
   * Hashes raws[start..] up to HASH_BATCH headers, stopping before the first that is not 80
   * bytes. Returns the index after the last header hashed.
   */
  hash(raws: readonly Uint8Array[], start: number): number {
    const end = Math.min(raws.length, start + HASH_BATCH);
    const input = this.input;
    let i = start;
    for (; i < end; i++) {
      const raw = raws[i];
      if (raw.length !== 80) break;
      input.set(raw, (i - start) * 80);
    }
    this.run(i - start);
    return i;
  }
}

let shared: HeaderBatchHasher | undefined;
/**
 * The instance every HeaderChain of the process uses. Its memory is scratch for one synchronous
 * hash() call and what the caller reads right after (like sha256d.ts's module-level scratch), so
 * chains can share it; sharing keeps the call into the module monomorphic, so code V8 optimised
 * for one chain (the start-up warm-up's: src/chain/warmup.ts) serves the next one.
 */
export function sharedHeaderHasher(): HeaderBatchHasher {
  shared ??= new HeaderBatchHasher();
  return shared;
}
