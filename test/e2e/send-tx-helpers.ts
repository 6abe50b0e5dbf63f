// Shared by the send-tx tests: structurally valid transactions, a regtest wallet for real spends,
// the two gateways' logs for failure messages, and the compiled CLI.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { Transaction } from 'bitcoinjs-lib';
import { sha256 } from '@noble/hashes/sha2.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import * as btc from '@scure/btc-signer';
import { memoryLogger } from '../../src/util/log.js';
import { REPO_ROOT } from '../harness/data.js';

export const CLI = resolve(REPO_ROOT, 'dist/src/cli/main.cjs');

const REGTEST = { bech32: 'bcrt', pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef };

/** A P2WPKH key on regtest derived from `label`, and a signed spend of a coinbase paid to it back to itself. */
export function regtestWallet(label: string) {
  const priv = sha256(new TextEncoder().encode(label));
  const payment = btc.p2wpkh(secp256k1.getPublicKey(priv, true), REGTEST);
  return {
    address: payment.address!,
    /** Spends output 0 of `coinbaseTxid` (worth `value` sat) back to the wallet, 20,000 sat fee. */
    spend(coinbaseTxid: string, value: bigint): btc.Transaction {
      const tx = new btc.Transaction();
      tx.addInput({ txid: coinbaseTxid, index: 0, witnessUtxo: { script: payment.script, amount: value } });
      tx.addOutputAddress(payment.address!, value - 20_000n, REGTEST);
      tx.sign(priv);
      tx.finalize();
      return tx;
    },
  };
}

/** Memory logs for gateways A and B, and their last 40 lines each for a failure message. */
export function gatewayLogs() {
  const logA = memoryLogger();
  const logB = memoryLogger();
  const tail = () => `--- gateway A ---\n${logA.lines.slice(-40).join('\n')}\n--- gateway B ---\n${logB.lines.slice(-40).join('\n')}`;
  return { logA, logB, tail };
}

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
