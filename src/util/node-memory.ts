// How altnet's Node processes are sized (issue 18, memory): the V8 flags and glibc malloc
// environment of the link driver processes (given by the supervisor) and of the main process
// (given by the launcher scripts/install.sh writes, which reads this module, and by the memory
// bench). One place for these facts; no imports, so the installer can load it alone.
// Each setting is justified by `npm run --silent bench -- memory` (PSS of a 4-link gateway's
// 5 processes against 5 bare Node processes in the same run).

/**
 * V8 settings sized for a driver, which holds a few batches at a time: a young generation of
 * 1 MB semi-spaces instead of up to 16 MB, and V8's memory-over-speed heuristics. Measured
 * (npm run bench -- memory): electrum and p2p link processes 34 -> 17-19 MB PSS after a sync.
 */
export const DRIVER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1', '--optimize-for-size'];
/**
 * The same young generation and heuristics for the main process, given by the launcher that
 * scripts/install.sh writes (with MEMORY_ENV) and by the memory bench. Measured (npm run bench
 * -- memory, issue 18): the main process of a 4-link gateway 20.7 -> 18.3 MB PSS.
 */
export const MAIN_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1', '--optimize-for-size'];
/**
 * glibc malloc settings of processes that should stay small (the driver processes; the
 * launcher and the memory bench give the main process the same):
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

/** The environment for a small Node process: `env` with MEMORY_ENV (an operator's own GLIBC_TUNABLES win). */
export function nodeMemoryEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const tunables = [MEMORY_ENV.GLIBC_TUNABLES, env.GLIBC_TUNABLES].filter(Boolean).join(':');
  return { ...env, MALLOC_ARENA_MAX: env.MALLOC_ARENA_MAX ?? MEMORY_ENV.MALLOC_ARENA_MAX, GLIBC_TUNABLES: tunables };
}
