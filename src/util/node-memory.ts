// How altnet's Node processes are sized (issue 18, memory): the V8 flags and glibc malloc
// environment of the link driver processes (given by the supervisor) and of the main process
// (given by the launcher scripts/install.sh writes, which reads this module, and by the memory
// bench). One place for these facts; no imports, so the installer can load it alone.
// Each setting is justified by `npm run --silent bench -- memory` (PSS of a 4-link gateway's
// 5 processes against 5 bare Node processes in the same run).

/**
 * Local time from the C library instead of ICU (issue 18, the node binary's file-backed pages).
 * The first Date that needs a time zone (toISOString too: V8 sets up its date cache, which asks
 * ICU for the default zone) makes V8 open ICU's time-zone data, which is compiled into the node
 * binary: the process then maps 208 more pages of it (160 of ICU's data, 48 of its code, 0.8 MB;
 * the main process formats log lines and status.json times with toISOString, the radio driver its
 * next frame time). With --no-icu-timezone-data, V8 takes local time from localtime_r (same
 * offsets and DST rules, from the system's tzdata; only Date#toString's zone name is the
 * abbreviation, "CET" for "Central European Standard Time"); altnet writes UTC times only.
 * Measured: a bare Node calling new Date().toISOString() maps 7,532 pages of /usr/bin/node
 * against 7,308 without the call and 7,324 with the flag (/proc/PID/pagemap, pages attributed to
 * ICU with nm); the daemon's main process in the memory bench's gateway, 9,766 -> 9,558 pages (no
 * ICU data page left beyond a bare Node's). npm run --silent bench -- memory, 3 runs alternating
 * with and without it (nodeBinaryRssMB; same-run bare Node 29.4 MB of it, 5.1 MB anonymous):
 * main 39.1/39.0/39.0 -> 37.6/38.2/38.3 MB of the node binary resident. Its PSS (main 12.5/12.8/
 * 13.6 -> 12.7/12.4/13.0 MB, ratio 1.555/1.517/1.517 -> 1.561/1.504/1.543) did not show it on the
 * shared development machine: other Node processes there (other checkouts' daemons, test runners)
 * map the same ICU pages and take their share; on the appliance only altnet maps them.
 */
const NO_ICU_TIME_ZONES = '--no-icu-timezone-data';
// The node binary's pages (issue 18): a page of /usr/bin/node that only altnet's processes map
// costs the gateway 4 kB of PSS however many of them map it (the memory bench's nodeBinaryAlone:
// 1,888 pages the gateway maps that a bare Node does not, 857 of them TurboFan's, mapped by the
// main process and the radio driver, ~600 Node's built-in modules' sources and code cache, which
// every process loads for net, streams and crypto). Tried for TurboFan's 3.4 MB, not kept: the
// main process without it (--max-opt=0) validated the 8,065 shared headers in 561 ms (14k
// headers/s; 11-12 ms with it, the target is 500k/s), and it only pays if the radio driver, whose
// fountain decoder needs the JIT, drops it too; 12 --no-turbo-* phase flags (inlining, load and
// store elimination, escape analysis, loop peeling, ...) on both: 901 -> 885 TurboFan pages;
// --maglev --max-opt=2 compiled nothing here (V8 11.3), interpreter speed. For WebAssembly (no
// longer used, chain/sha256d-batch.ts): --liftoff-only 364 -> 332 pages of it, --no-liftoff 284.
/**
 * V8 settings sized for a driver, which holds a few batches at a time: a young generation of
 * 1 MB semi-spaces instead of up to 16 MB, and V8's memory-over-speed heuristics. Measured
 * (npm run bench -- memory): electrum and p2p link processes 34 -> 17-19 MB PSS after a sync.
 * Then the main process's two code-memory settings (MAIN_NODE_FLAGS says what they do): a
 * driver runs its start-up code (link set-up, option checks) once, so its bytecode goes at the
 * next full GC, and the radio drivers (the only ones with a JIT) keep no baseline machine code.
 * Measured (npm run --silent bench -- memory's gateway, 3 runs alternating with and without,
 * medians of 5 samples, bare Node 6.2 MB anonymous): anonymous memory sim 8.91/9.24/9.03 ->
 * 8.70/8.41/8.73, esplora 8.96/8.70/8.52 -> 8.51/8.54/8.50, electrum 8.70/8.72/8.59 ->
 * 8.76/8.51/8.46 MB (p2p within its own spread, 9.3-11.2). Fountain code without Sparkplug (npm
 * run bench -- fec under --no-sparkplug, same machine): decode 5.4 -> 5.7 ms, encode 15.6 ->
 * 25.7 ms, both targets still met (115x and 10x the reference).
 */
export const DRIVER_NODE_FLAGS: readonly string[] = [
  '--max-semi-space-size=1',
  '--optimize-for-size',
  '--no-sparkplug',
  '--bytecode-old-age=1',
  NO_ICU_TIME_ZONES,
];
/**
 * The internet header sources (registry family 'source': p2p, peers, esplora, electrum, dns)
 * wait on the network and do little computing of their own (hashing is native, sha256d in
 * chain/header.ts; BIP324's AEAD is node:crypto): they run V8's interpreter only, without the
 * optimising compilers, their code and their worker memory. WebAssembly is off with it (no
 * driver uses it; --no-expose-wasm silences V8's warning that it turned it off). Measured
 * (npm run --silent bench -- memory, issue 18, medians of 3 runs alternating with and without):
 * esplora 12.0 -> 10.8, electrum 14.1 -> 11.6, p2p 14.7 -> 12.6 MB PSS, the gateway's ratio to
 * bare Node 1.95 -> 1.81. CPU (ms, JIT -> jitless, 2000 mainnet headers): checking a run
 * 8.4 -> 22 (it was 17 with the JS sha256 before), Electrum JSON to headers 1.4 -> 3.1, a
 * BIP324 handshake 12 -> 17, a 2000-header BIP324 message 0.8 -> 1.2, IPC 1.1 -> 2.7.
 * The radio family keeps the JIT: its fountain decoder ran 16 times slower without it (a
 * 2016-header batch at 50% loss, 6.5 -> 104 ms; npm run bench -- fec under --jitless).
 */
export const SOURCE_DRIVER_NODE_FLAGS: readonly string[] = ['--jitless', '--no-expose-wasm'];

/** The V8 flags of a driver process for a link of `family` (the registry entry's family). */
export function driverNodeFlags(family: string | undefined): string[] {
  return family === 'source' ? [...DRIVER_NODE_FLAGS, ...SOURCE_DRIVER_NODE_FLAGS] : [...DRIVER_NODE_FLAGS];
}
/**
 * The same young generation and heuristics for the main process, given by the launcher that
 * scripts/install.sh writes (with MEMORY_ENV) and by the memory bench. Measured (npm run bench
 * -- memory, issue 18): the main process of a 4-link gateway 20.7 -> 18.3 MB PSS.
 * Then two code-memory settings (issue 18; where the main process's memory went after a sync:
 * V8 heap 8 MB against a bare Node's 4, of it ~0.7 MB of code space and 0.5 MB of bytecode):
 * - --no-sparkplug: no baseline (Sparkplug) machine code, which V8 compiled for every function
 *   run a few times (code space 724 -> 76 kB); the hot paths still tier up from the interpreter
 *   to optimised code.
 * - --bytecode-old-age=1: bytecode of functions not run since the last full GC (start-up: config
 *   checking, CLI, link set-up) is dropped at the next one instead of the fifth (0.5 -> 0.16 MB
 *   of bytecode after a sync); a function run again is compiled again.
 * Measured (npm run --silent bench -- memory, 3 runs alternating with and without, same-run bare
 * Node 6.9-7.5 MB PSS, 6.2 anonymous): main process 15.1/15.6/16.0 -> 14.5/14.0/15.5 MB PSS,
 * anonymous 13.6/14.2/13.8 -> 13.0/12.7/13.1 MB. Header validation (npm run --silent bench --
 * coldstart, main-thread CPU, 8,065 headers): warm run 10.1-10.7 ms vs 10.9-13.4 without them;
 * the daemon's first run after its warm-up 1.29-1.37x the warm one (1.52-1.68x without). Without
 * the warm-up (not how the daemon runs) the first run is 2.9-3.0x instead of 2.3-2.4x.
 */
export const MAIN_NODE_FLAGS: readonly string[] = [
  '--max-semi-space-size=1',
  '--optimize-for-size',
  '--no-sparkplug',
  '--bytecode-old-age=1',
  NO_ICU_TIME_ZONES,
];
/**
 * glibc malloc settings of processes that should stay small (the driver processes, with one
 * arena: DRIVER_MALLOC_ARENA_MAX; the launcher and the memory bench give the main process these):
 * - MALLOC_ARENA_MAX: one malloc arena per thread is up to 64 MB of address space and some
 *   resident pages each;
 * - mmap and trim thresholds of 32 kB: a freed socket read buffer (64 kB) or V8 compiler zone
 *   goes back to the kernel instead of pinning the top of the heap; by default the mmap
 *   threshold grows to the largest block freed, so after one big message every later one is
 *   kept in the heap. Measured (npm run bench -- memory, issue 18): 1-4 MB PSS less per
 *   process, 15 MB less over a gateway's 5 processes.
 */
export const MEMORY_ENV: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: '2',
  GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=32768:glibc.malloc.trim_threshold=32768',
};

/**
 * A link driver's malloc arenas: one, shared by its few threads (V8's platform workers run GC
 * helpers; a driver's main thread does nearly all allocating). Measured (npm run --silent bench
 * -- memory's gateway, 3 runs alternating with 2, medians of 5 samples): anonymous memory sim
 * 8.73/8.73/8.75 -> 8.45/8.50/8.46, esplora 9.00/8.66/8.55 -> 8.52/8.68/8.44 MB, electrum and
 * p2p within their spread.
 */
export const DRIVER_MALLOC_ARENA_MAX = '1';

// The floor of a driver process (issue 18), printed by `npm run --silent bench -- memory` as
// driverFloor (test/bench/memory-floor-driver.ts: IPC socket on fd 3, one TCP connection,
// node:crypto SHA-256, cbor-x, with a source driver's flags and environment, none of altnet's
// code): 6.4 MB anonymous against bare Node's 5.1 and the bench drivers' 7.1-7.8; the ratio with
// every driver at that floor would be 1.42 (measured 1.55 in the same run). Its parts, measured in
// jitless processes with these flags (3 each, Pss_Anon kB): idle 5168; require('node:net') 5680;
// plus a socket on fd 3 and a TCP connection 5800; plus require('node:crypto') 6208 (hashing adds
// nothing); cbor-x's two light entry points alone +130-170. A JavaScript SHA-256
// (@noble/hashes) instead of node:crypto costs 80 kB instead of 410 but hashes 2000 headers
// twice in 240-280 ms instead of 8-11 ms without a JIT, and TLS and BIP324 load node:crypto anyway:
// not taken.
// Freed malloc heap that only malloc_trim(0) returns (gdb on the bench's drivers after the sync,
// kB): floor 132-136; sim 236-296, esplora 308-328, electrum 332-476, p2p 516-616 before
// chain/header.ts sha256d stopped making a malloc'd Buffer per digest, then esplora 104, electrum
// 144, p2p 320, sim 248. Causes found so far are fixed where they were: NODE_EXTRA_CA_CERTS
// (driverEnv), one slice() per received header (p2p), a Buffer per digest (sha256d).
// Tried for the drivers and not kept, npm run --silent bench -- memory, 2 runs each alternating
// with the settings above (anonymous MB of sim/esplora/electrum/p2p; bare Node 5.1): as they are
// 7.3/7.8/7.1/7.6 and 7.2/7.1/7.1/7.5; --v8-pool-size=1 7.1/7.2/7.4/7.4, 7.1/7.1/7.2/7.4;
// --single-threaded 7.2/7.2/7.4/7.9, 7.2/7.2/7.1/7.3; glibc.malloc.tcache_count=0 7.1/7.5/7.1/7.2,
// 7.2/7.1/6.9/7.3; glibc.malloc.mxfast=0 7.6/7.0/7.0/7.7, 7.3/7.7/7.1/7.4; UV_THREADPOOL_SIZE=1
// 7.1/7.1/7.2/7.5, 7.6/7.1/7.2/7.4: all within the run-to-run spread. On an idle floor process,
// --single-generation, --lite-mode and --lazy-new-space-shrinking change nothing (6568-6600 kB).
// Code changes tried the same way and not kept: building codec/fec.ts's 64 kB product table on
// first use (its load-time loop is compiled by TurboFan, on-stack, in every radio driver: peak
// malloc 590 -> 281 kB) left the sim driver at 7.3/7.1/7.5 against 7.4/7.3/7.3 MB; joining each
// driver's 20-23 bundle chunks into 2 files (20 tiny CommonJS files cost 204 kB more than one in
// an idle process) moved the drivers within their spread (sim 7.3, esplora 7.6, electrum 7.3,
// p2p 7.5 MB); the source links' learned heights (links/source/heights.ts) in two typed arrays
// instead of a Map (its table: 448 kB in electrum's V8 heap after the sync, 224 kB in p2p's;
// 917 kB at the 20,000-entry limit; the arrays 128 kB) left electrum at 6.6/6.7 and p2p at
// 7.9/7.3 against 6.8/6.7 and 7.4/7.9 MB; --compact-on-every-full-gc for the drivers gave
// 7.3/7.1/6.7/7.2 and 7.3/7.2/6.8/7.6 against 7.3/7.4/6.6/7.9 and 7.3/7.2/6.7/7.3.
// --no-node-snapshot (Node runs its bootstrap instead of deserializing its start-up snapshot,
// whose V8 heap carries a 256 kB number-to-string cache sized for a 16 MB young generation, and
// more): an idle floor process 6600 -> 5816 kB Pss_Anon, but in the drivers the malloc heap grew
// by most of what the V8 heap lost (hold gateway: [anon] -0.7 to -1 MB, [heap] +0.35 to +0.5 MB)
// and Node's built-in sources are read from the binary's pages; 3 runs alternating: ratio
// 1.462/1.493 -> 1.460/1.495, sim 7.1/7.5/7.1 -> 6.9/6.9/6.9 MB, the sources within their spread;
// 30 ms more per driver start (69-79 -> 98-112 ms).

/**
 * The environment for a small Node process: `env` with MEMORY_ENV (an operator's own
 * GLIBC_TUNABLES and MALLOC_ARENA_MAX win); `arenas` replaces MEMORY_ENV's arena count.
 */
export function nodeMemoryEnv(env: NodeJS.ProcessEnv, arenas: string = MEMORY_ENV.MALLOC_ARENA_MAX): NodeJS.ProcessEnv {
  const tunables = [MEMORY_ENV.GLIBC_TUNABLES, env.GLIBC_TUNABLES].filter(Boolean).join(':');
  return { ...env, MALLOC_ARENA_MAX: env.MALLOC_ARENA_MAX ?? arenas, GLIBC_TUNABLES: tunables };
}

/**
 * A link driver's environment: nodeMemoryEnv with one malloc arena, and without
 * NODE_EXTRA_CA_CERTS when the link never speaks TLS (`speaksTls`, the registry's speaksTls).
 * With that variable set, Node reads the file and builds its root certificate store (its own
 * ~140 roots and the file's) at start-up, before running any JavaScript, whether or not the
 * process ever opens a TLS connection: a bare Node process 5.2 -> 6.3 MB anonymous memory with
 * NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt (heap 1.6 -> 2.7 MB), and a p2p link
 * process held 2.4 MB more of freed but unreturned heap after its sync (heaptrack: 184,000
 * OpenSSL allocation calls from node::crypto::UseExtraCaCerts; malloc_trim from gdb took it
 * 11.0 -> 8.6 MB anonymous). A link that speaks TLS keeps it: the operator's extra roots are
 * what its connections trust.
 */
export function driverEnv(env: NodeJS.ProcessEnv, speaksTls: boolean): NodeJS.ProcessEnv {
  // The main process's own arena count (MEMORY_ENV's, in its environment from the launcher or the
  // memory bench) is not passed on: it made every driver run with 2 arenas, not
  // DRIVER_MALLOC_ARENA_MAX (seen in /proc/PID/environ of the memory bench's drivers). An
  // operator's own count still is.
  const arenas = env.MALLOC_ARENA_MAX === MEMORY_ENV.MALLOC_ARENA_MAX ? undefined : env.MALLOC_ARENA_MAX;
  const out = nodeMemoryEnv({ ...env, MALLOC_ARENA_MAX: arenas }, DRIVER_MALLOC_ARENA_MAX);
  if (!speaksTls) delete out.NODE_EXTRA_CA_CERTS;
  return out;
}
