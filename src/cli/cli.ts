// `altnet <command> [args]`, loaded by the entry src/cli/main.cts. Each command lives in its own module exporting
// `run(args: string[], io: CliIO): Promise<number>` (the exit code); this file only dispatches,
// answers --version and `altnet help [command]`, and keeps a closed stdout (`altnet … | head`)
// from turning into a stack trace.
import { ALTNET_VERSION } from '../util/version.js';
import { closest } from './args.js';
import type { CliIO } from './io.js';
import { processIO } from './io.js';

interface CommandEntry {
  summary: string;
  load: () => Promise<{ run: (args: string[], io: CliIO) => Promise<number> }>;
}

const COMMANDS: Record<string, CommandEntry> = {
  demo: {
    summary: 'everything embedded: an eclipsed node learns the better chain over simulated LoRa',
    load: () => import('./cmd-demo.js'),
  },
  run: { summary: 'run the gateway daemon (reads altnet.conf)', load: () => import('./cmd-run.js') },
  beacon: { summary: 'run as a broadcast-only transmitter of the latest headers', load: () => import('./cmd-beacon.js') },
  status: { summary: 'links, node tip, chain tip and anomalies of the running daemon', load: () => import('./cmd-status.js') },
  boards: { summary: 'list serial radios and the board profile each matches', load: () => import('./cmd-boards.js') },
  probe: {
    summary: 'open a radio: firmware, the settings it reports, headers per hour its airtime allows',
    load: () => import('./cmd-probe.js'),
  },
  'send-tx': {
    summary: 'store a signed transaction for the daemon to send on every link until the network has it',
    load: () => import('./cmd-send-tx.js'),
  },
  'bip324-proxy': {
    summary: 'encrypted BIP324 connections for v1-only software (SOCKS5 or plain v1 on 127.0.0.1:1324)',
    load: () => import('./cmd-bip324-proxy.js'),
  },
  codec: { summary: 'encode, decode and inspect radio frames (hex); header codec statistics', load: () => import('./cmd-codec.js') },
};

function usage(io: CliIO): void {
  io.out('usage: altnet <command> [options]\n\ncommands:');
  for (const [name, c] of Object.entries(COMMANDS)) io.out(`  ${name.padEnd(10)} ${c.summary}`);
  io.out("  help       `altnet help <command>` is `altnet <command> --help`; `altnet help links` lists every link type's keys");
  io.out('\nOptions follow bitcoind: -key=value or --key=value, -flag or -flag=1/0, -noflag.');
  io.out('`altnet <command> --help` describes each command; `altnet --version` prints the version.');
}

export async function main(argv: string[], io: CliIO): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd) {
    usage(io);
    return 2;
  }
  if (['--help', '-help', '-h', '-?'].includes(cmd)) {
    usage(io);
    return 0;
  }
  if (cmd === '--version' || cmd === '-version') {
    io.out(`altnet ${ALTNET_VERSION}`);
    return 0;
  }
  if (cmd === 'help') {
    if (rest.length === 0) {
      usage(io);
      return 0;
    }
    if (rest[0] === 'links') return (await import('./help-links.js')).run(rest.slice(1), io);
    return main([rest[0], '--help', ...rest.slice(1)], io);
  }
  const entry = COMMANDS[cmd];
  if (!entry) {
    const near = closest(cmd, Object.keys(COMMANDS));
    io.err(`altnet: unknown command "${cmd}"${near ? ` (did you mean "${near}"?)` : ''}`);
    usage(io);
    return 2;
  }
  return (await entry.load()).run(rest, io);
}

/** A reader that went away (`altnet help | head -1`) is normal: stop quietly. */
function quietOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}
quietOnClosedPipe(process.stdout);
quietOnClosedPipe(process.stderr);

main(process.argv.slice(2), processIO()).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`altnet: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
