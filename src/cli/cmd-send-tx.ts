// `altnet send-tx HEX | --file=F`: checks a signed transaction and stores it in the daemon's
// outbox (durably, before saying so). The running daemon picks it up, sends it on every link
// that carries transactions and re-sends it until the node sees it from the network. This
// command never talks to the daemon: the outbox directory is the interface, so a transaction
// is safe on disk even when the daemon is down or restarting.
import { readFileSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { outboxDir, submitToOutbox, type SubmitOutcome } from '../gateway/outbox.js';
import { AltnetError } from '../util/errors.js';
import { loadConfig } from './config.js';
import type { CliIO } from './io.js';
import { flag, parseCommand, str, type CommandSpec } from './args.js';
import { ALTNET_VERSION } from '../util/version.js';

/** Exit codes, stable for scripts. */
export const EXIT = { ok: 0, badTx: 1, usage: 2, storeFailed: 3 } as const;

const USAGE = `usage: altnet send-tx <hex> | --file=<path> [--again] [--conf=FILE] [-datadir=DIR] [-network=NET]

Stores a signed raw transaction in the outbox of the configured datadir; the running daemon
sends it on every link that carries transactions (radio links fragment and FEC-code it) and
to the node, and re-sends it (30 s, 1 min, 2 min ... every 30 min at most) until the node
announces it from the network, or 14 days pass. \`altnet status\` lists pending transactions.

  <hex>          the raw transaction, hex (as signrawtransactionwithwallet prints it)
  --file=<path>  read it from a file instead: hex text, or the raw binary transaction; - is stdin
  --again        queue again a transaction the network was already seen to have

Exit codes: 0 stored (or already pending), 1 the transaction is invalid, 2 usage or config
error, 3 the outbox could not be written.`;

const SPEC: CommandSpec = {
  name: 'send-tx',
  options: [
    { name: 'file', type: 'string' },
    { name: 'again', type: 'bool' },
    { name: 'queue-only', type: 'bool' },
  ],
  configFlags: true,
};

export async function run(args: string[], io: CliIO): Promise<number> {
  const parsed = parseCommand(args, SPEC, USAGE, io, ALTNET_VERSION);
  if (typeof parsed === 'number') return parsed;
  const file = str(parsed, 'file');
  const again = flag(parsed, 'again');
  const configFlags = parsed.configArgs;
  if (parsed.positional.length > 1) return usageError(io, 'give one transaction (one hex argument)');
  const hex: string | undefined = parsed.positional[0];
  if (hex !== undefined && file !== undefined) return usageError(io, 'give the transaction as hex or with --file, not both');
  if (hex === undefined && file === undefined) return usageError(io, 'no transaction given');

  let datadir: string;
  let network: string;
  try {
    const config = loadConfig(configFlags, io);
    datadir = config.datadir;
    network = config.network;
  } catch (err) {
    io.err(`altnet: ${(err as Error).message}`);
    return EXIT.usage;
  }

  let input: string | Uint8Array;
  if (file !== undefined) {
    try {
      const bytes = file === '-' ? readFileSync(0) : readFileSync(isAbsolute(file) ? file : join(io.cwd, file));
      const text = bytes.toString('latin1');
      // A raw transaction starts with its version's low bytes, never printable hex digits.
      input = /^[\s0-9a-fA-F]*$/.test(text) ? text : new Uint8Array(bytes);
    } catch (err) {
      io.err(`altnet: cannot read ${file}: ${(err as Error).message}`);
      return EXIT.usage;
    }
  } else {
    input = hex!;
  }

  const dir = outboxDir(datadir, network);
  let outcome: SubmitOutcome;
  try {
    outcome = submitToOutbox(dir, input, { source: 'cli', again });
  } catch (err) {
    if (err instanceof AltnetError && err.code.startsWith('tx-')) {
      io.err(`altnet: transaction rejected (${err.code}): ${err.message}`);
      return EXIT.badTx;
    }
    io.err(`altnet: cannot store the transaction in ${dir}: ${(err as Error).message}`);
    return EXIT.storeFailed;
  }

  const { tx } = outcome;
  switch (outcome.status) {
    case 'queued':
      io.out(`queued ${tx.txid} (${tx.vsize} vB, ${tx.inputs} in, ${tx.outputs} out)`);
      io.out(`stored in ${outcome.path}; the daemon sends it on every link that carries transactions until the network has it.`);
      break;
    case 'already-pending':
      io.out(`${tx.txid} is already pending (since ${outcome.addedAt}); nothing to do.`);
      break;
    case 'already-done':
      io.out(`${tx.txid} was already seen by the network (${outcome.doneAt}); not queued again. Use --again to send it anyway.`);
      break;
  }
  if (outcome.status !== 'already-done' && !daemonLooksAlive(datadir)) {
    io.err(`altnet: note: no running daemon seen for ${datadir} (status.json missing or old); the transaction is sent when \`altnet run\` starts.`);
  }
  return EXIT.ok;
}

function usageError(io: CliIO, problem: string): number {
  io.err(`altnet: ${problem}\n\n${USAGE}`);
  return EXIT.usage;
}

function daemonLooksAlive(datadir: string): boolean {
  try {
    return Date.now() - statSync(join(datadir, 'status.json')).mtimeMs < 10_000;
  } catch {
    return false;
  }
}
