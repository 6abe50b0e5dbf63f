// `altnet send-tx HEX | --file=F`: checks a signed transaction and stores it in the daemon's
// outbox (durably, before saying so). The running daemon picks it up, sends it on every link
// that carries transactions and re-sends it until the node sees it from the network. This
// command never talks to the daemon: the outbox directory is the interface, so a transaction
// is safe on disk even when the daemon is down or restarting.
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { checkTransaction, outboxDir, submitToOutbox, type SubmitOutcome } from '../gateway/outbox.js';
import { readDaemonInfo } from '../gateway/datadir.js';
import { AltnetError } from '../util/errors.js';
import { loadConfig } from './config.js';
import type { CliIO } from './io.js';
import { flag, parseCommand, str, type CommandSpec } from './args.js';
import { ALTNET_VERSION } from '../util/version.js';

/** Exit codes, stable for scripts. */
export const EXIT = { ok: 0, badTx: 1, usage: 2, storeFailed: 3, noSender: 4 } as const;

const USAGE = `usage: altnet send-tx <hex> | --file=<path> [--again] [--queue-only] [--conf=FILE] [-datadir=DIR] [-regtest|-network=NET]

Stores a signed raw transaction in the outbox of the configured datadir; the running daemon
sends it on every link that carries transactions (radio links fragment and FEC-code it) and
to the node, and re-sends it (30 s, 1 min, 2 min ... every 30 min at most) until the node
announces it from the network, or 14 days pass. \`altnet status\` lists pending transactions.

  <hex>          the raw transaction, hex (as signrawtransactionwithwallet prints it)
  --file=<path>  read it from a file instead: hex text, or the raw binary transaction; - is stdin
  --again        queue again a transaction the network was already seen to have
  --queue-only   store it even when no daemon would send it now (none runs on this datadir,
                 it runs another network, or it is receive-only)

The datadir and network are found as the daemon finds them (-datadir=, the config file,
$ALTNET_DATADIR, /var/lib/altnet when installed as a service, else ~/.altnet). The command
refuses, and stores nothing, when the daemon on that datadir would not send the transaction.

Exit codes: 0 stored (or already pending), 1 the transaction is invalid, 2 usage or config
error, 3 the outbox could not be written, 4 no daemon would send it (see --queue-only).`;

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

  // A bad transaction is refused before anything else is looked at.
  try {
    checkTransaction(input);
  } catch (err) {
    if (err instanceof AltnetError && err.code.startsWith('tx-')) {
      io.err(`altnet: transaction rejected (${err.code}): ${err.message}`);
      return EXIT.badTx;
    }
    throw err;
  }
  const queueOnly = flag(parsed, 'queue-only');
  const refusal = queueOnly ? undefined : whyNobodySends(datadir, network);
  if (refusal) {
    io.err(`altnet: not queued: ${refusal}`);
    return EXIT.noSender;
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
  if (outcome.status !== 'already-done' && queueOnly && !readDaemonInfo(datadir)?.alive) {
    io.err(`altnet: note: no daemon is running on ${datadir}; the transaction is sent when \`altnet run\` starts there.`);
  }
  return EXIT.ok;
}

/**
 * Why a transaction queued in this datadir's outbox for `network` would not be sent, or
 * undefined when the daemon that owns the datadir will send it.
 */
export function whyNobodySends(datadir: string, network: string): string | undefined {
  const d = readDaemonInfo(datadir);
  const queueAnyway = 'add --queue-only to store it anyway (it is sent once a daemon that transmits runs on this datadir and network)';
  if (!d || !d.alive) {
    const gone = d ? ` (the last one, pid ${d.info.pid}, is gone)` : '';
    return (
      `no altnet daemon is running on datadir ${datadir}${gone}, so nothing would send this transaction. ` +
      `Start it (systemctl start altnet, or altnet run -datadir=${datadir}), check -datadir= / $ALTNET_DATADIR, or ${queueAnyway}.`
    );
  }
  const { info } = d;
  if (info.network !== network) {
    const flagFor = info.network === 'main' ? '-network=main' : `-${info.network}`;
    return (
      `the daemon on datadir ${datadir} (pid ${info.pid}) runs ${info.network}, but this transaction would be queued for ${network}, where no daemon reads it. ` +
      `Add ${flagFor} (or set network=${info.network} in the config), or ${queueAnyway}.`
    );
  }
  if (info.mode === 'receive-only') {
    return (
      `the daemon on datadir ${datadir} (pid ${info.pid}) is receive-only: it never transmits, so it cannot send this transaction. ` +
      `Send it from a gateway that transmits, or restart this one without --receive-only / receiveonly=1 (amateur links then need callsign=); or ${queueAnyway}.`
    );
  }
  return undefined;
}

function usageError(io: CliIO, problem: string): number {
  io.err(`altnet: ${problem}\n\n${USAGE}`);
  return EXIT.usage;
}
