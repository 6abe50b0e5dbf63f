// Shared by the send-tx tests: structurally valid transactions and the compiled CLI.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { Transaction } from 'bitcoinjs-lib';
import { REPO_ROOT } from '../harness/data.js';

export const CLI = resolve(REPO_ROOT, 'dist/src/cli/main.js');

/** A structurally valid segwit spend (signatures are the node's business, not the outbox's). */
export function makeTx(seed: number, opts: { witness?: boolean; outputs?: number; scriptBytes?: number } = {}): Transaction {
  const tx = new Transaction();
  tx.version = 2;
  tx.addInput(Buffer.alloc(32, seed & 0xff).fill((seed >> 8) & 0xff, 0, 1), seed % 3, 0xfffffffd);
  for (let i = 0; i < (opts.outputs ?? 1); i++) {
    const script = opts.scriptBytes
      ? Buffer.alloc(opts.scriptBytes, 0x51)
      : Buffer.concat([Buffer.from([0x00, 0x14]), Buffer.alloc(20, seed + i)]);
    tx.addOutput(script, BigInt(10_000 + i));
  }
  if (opts.witness ?? true) tx.setWitness(0, [Buffer.alloc(71, 0x30), Buffer.alloc(33, 0x02)]);
  return tx;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the compiled `altnet` with no config file from the environment. */
export function runCli(args: string[], opts: { stdin?: Uint8Array; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((res, rej) => {
    const env = { ...process.env };
    delete env.ALTNET_CONF;
    const child = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd ?? REPO_ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    child.once('error', rej);
    child.once('exit', (code) => res({ code, stdout, stderr }));
    child.stdin.end(opts.stdin ?? new Uint8Array(0));
  });
}
