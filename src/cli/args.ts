// The one command-line grammar of every `altnet` command, in the style of bitcoind:
//   -key=value  --key=value      an option with a value (a command's own value options also
//                                take the next argument: --file tx.hex)
//   -key  --key                  a boolean option set (bare), or -key=1 / -key=0 (also
//                                true/false, yes/no, on/off)
//   -nokey  --nokey              a boolean option cleared, as bitcoind's -nolisten
//   -h  -help  --help  -?        the command's usage; --version (or -version) the version
//   --                           everything after it is positional
//   -                            positional (stdin, where a command reads a file)
// A command declares its own options; options it does not declare are either handed to the
// config loader (commands that read altnet.conf: run, beacon, status, send-tx) or refused with
// a did-you-mean. Pure: argv in, values out, no I/O.
import { closest } from '../util/suggest.js';
import { ConfigError } from '../util/errors.js';

export type ArgType = 'bool' | 'string' | 'int' | 'number';

export interface ArgSpec {
  name: string;
  type: ArgType;
  /** For int/number: inclusive bounds. */
  min?: number;
  max?: number;
  /** For string: the allowed values. */
  values?: readonly string[];
}

export interface CommandSpec {
  /** `altnet <name>`, for messages. */
  name: string;
  options: readonly ArgSpec[];
  /** Hand options the command does not declare to the config loader instead of refusing them. */
  configFlags?: boolean;
}

export interface ParsedArgs {
  /** Declared options that were given: bool options as booleans, the rest as strings/numbers. */
  values: Map<string, string | number | boolean>;
  positional: string[];
  /** Undeclared `-key[=value]` options, verbatim, for loadConfig (configFlags commands only). */
  configArgs: string[];
  help: boolean;
  version: boolean;
}

const TRUE_WORDS = ['1', 'true', 'yes', 'on'];
const FALSE_WORDS = ['0', 'false', 'no', 'off'];
const HELP_WORDS = ['h', 'help', '?'];

/** Parses argv (after the command name) against the command's options; throws ConfigError. */
export function parseArgs(argv: readonly string[], spec: CommandSpec): ParsedArgs {
  const byName = new Map(spec.options.map((o) => [o.name, o]));
  const out: ParsedArgs = { values: new Map(), positional: [], configArgs: [], help: false, version: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      out.positional.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '-' || !arg.startsWith('-')) {
      out.positional.push(arg);
      continue;
    }
    const m = /^--?([^=]*)(?:=(.*))?$/s.exec(arg)!;
    const key = m[1];
    let value: string | undefined = m[2];
    if (key === '' || key.startsWith('-'))
      throw cliError('cli-bad-option', spec, `"${arg}" is not an option; write -key=value or --key=value`);
    const lower = key.toLowerCase();
    if (HELP_WORDS.includes(lower) && value === undefined) {
      out.help = true;
      continue;
    }
    if (lower === 'version' && value === undefined) {
      out.version = true;
      continue;
    }
    let opt = byName.get(lower);
    if (!opt && value === undefined && lower.startsWith('no') && byName.get(lower.slice(2))?.type === 'bool') {
      opt = byName.get(lower.slice(2))!;
      value = '0';
    }
    if (!opt) {
      if (spec.configFlags) {
        out.configArgs.push(arg);
        continue;
      }
      const near = closest(
        lower,
        spec.options.map((o) => o.name),
      );
      throw cliError(
        'cli-unknown-option',
        spec,
        `unknown option "${arg}"${near ? ` (did you mean --${near}?)` : ''}; \`altnet ${spec.name} --help\` lists the options`,
      );
    }
    if (opt.type === 'bool') {
      if (value === undefined) out.values.set(opt.name, true);
      else if (TRUE_WORDS.includes(value.toLowerCase())) out.values.set(opt.name, true);
      else if (FALSE_WORDS.includes(value.toLowerCase())) out.values.set(opt.name, false);
      else throw cliError('cli-bad-value', spec, `--${opt.name}=${value}: expected nothing, 1 or 0 (true/false, yes/no, on/off)`);
      continue;
    }
    if (value === undefined) {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('-') && next !== '-')) {
        throw cliError('cli-missing-value', spec, `--${opt.name} needs a value: --${opt.name}=${metaOf(opt)}`);
      }
      value = next;
      i++;
    }
    out.values.set(opt.name, checkValue(opt, value, spec));
  }
  return out;
}

function metaOf(o: ArgSpec): string {
  if (o.values) return o.values.join('|');
  return o.type === 'int' || o.type === 'number' ? 'N' : o.name.toUpperCase();
}

function checkValue(o: ArgSpec, v: string, spec: CommandSpec): string | number {
  if (o.type === 'string') {
    if (o.values && !o.values.includes(v))
      throw cliError('cli-bad-value', spec, `--${o.name}=${v}: expected one of ${o.values.join(', ')}`);
    return v;
  }
  const n = o.type === 'int' ? (/^[+-]?\d+$/.test(v.trim()) ? Number(v) : NaN) : v.trim() === '' ? NaN : Number(v);
  if (!Number.isFinite(n))
    throw cliError('cli-bad-value', spec, `--${o.name}=${v}: expected ${o.type === 'int' ? 'a whole number' : 'a number'}`);
  if ((o.min !== undefined && n < o.min) || (o.max !== undefined && n > o.max)) {
    throw cliError(
      'cli-bad-value',
      spec,
      `--${o.name}=${v}: must be ${o.type === 'int' ? 'an integer' : 'a number'} in [${o.min ?? '-∞'}, ${o.max ?? '∞'}]`,
    );
  }
  return n;
}

function cliError(code: string, spec: CommandSpec, problem: string): ConfigError {
  return new ConfigError(code, `altnet ${spec.name}: ${problem}`);
}

export { closest, editDistance } from '../util/suggest.js';

/** Typed getters over ParsedArgs.values. */
export function flag(p: ParsedArgs, name: string, dflt = false): boolean {
  const v = p.values.get(name);
  return typeof v === 'boolean' ? v : dflt;
}

export function str(p: ParsedArgs, name: string): string | undefined {
  const v = p.values.get(name);
  return v === undefined ? undefined : String(v);
}

export function num(p: ParsedArgs, name: string): number | undefined {
  const v = p.values.get(name);
  return typeof v === 'number' ? v : undefined;
}

/** What a command needs of CliIO here (kept structural so this module imports nothing). */
interface Out {
  out(line: string): void;
  err(line: string): void;
}

/**
 * Parses argv for a command and answers the options every command shares: -h/--help prints
 * `usage` (exit 0), --version prints the version (exit 0), a mistake prints the problem and the
 * usage on stderr (exit 2). Returns the parsed arguments, or the exit code when done.
 */
export function parseCommand(argv: readonly string[], spec: CommandSpec, usage: string, io: Out, version: string): ParsedArgs | number {
  let p: ParsedArgs;
  try {
    p = parseArgs(argv, spec);
  } catch (err) {
    io.err(`${(err as Error).message}\n\n${usage}`);
    return 2;
  }
  if (p.help) {
    io.out(usage);
    return 0;
  }
  if (p.version) {
    io.out(`altnet ${version}`);
    return 0;
  }
  return p;
}
