// One line per event that matters. Human-readable by default, JSON lines with `json: true`.
// Under systemd (`journal: true`, see journalStream) each line starts with its syslog priority
// as sd-daemon(3) prefixes it (`<3>` error, `<4>` warning, `<6>` info, `<7>` debug) and carries
// no timestamp of its own: journald records the time, and `journalctl -p warning` filters on
// the priority. Loggers are values passed to constructors, never module globals.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
/** syslog(3) priorities: LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG. */
const PRIORITY: Record<LogLevel, number> = { error: 3, warn: 4, info: 6, debug: 7 };

/**
 * True when stderr is journald's stream: systemd sets JOURNAL_STREAM=<device>:<inode> of the
 * stream it connected, and a process whose stderr was redirected elsewhere must not use the
 * prefixes (systemd.exec(5), JOURNAL_STREAM). `fstat` is passed in so this stays testable.
 */
export function journalStream(env: Record<string, string | undefined>, fstat: () => { dev: number; ino: number } | undefined): boolean {
  const m = /^(\d+):(\d+)$/.exec(env.JOURNAL_STREAM ?? '');
  if (!m) return false;
  const st = fstat();
  return st !== undefined && String(st.dev) === m[1] && String(st.ino) === m[2];
}

export type LogFields = Record<string, string | number | boolean | bigint | null | undefined>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger whose lines carry `component` (e.g. `node`, `link:lora0`). */
  child(component: string): Logger;
}

export interface LoggerOptions {
  level?: LogLevel;
  json?: boolean;
  component?: string;
  /** sd-daemon priority prefixes and no timestamp, for journald (see journalStream). */
  journal?: boolean;
  /** Where lines go; defaults to stderr so stdout stays free for command output. */
  write?: (line: string) => void;
  now?: () => Date;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? 'info';
  const write = opts.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const now = opts.now ?? (() => new Date());
  const component = opts.component;

  const emit = (lvl: LogLevel, msg: string, fields?: LogFields): void => {
    if (ORDER[lvl] < ORDER[level]) return;
    const journal = opts.journal === true;
    const prefix = journal ? `<${PRIORITY[lvl]}>` : '';
    if (journal) msg = msg.replace(/[\r\n]+/g, ' '); // one journal entry per event
    if (opts.json) {
      const rec: Record<string, unknown> = journal ? { level: lvl } : { ts: now().toISOString(), level: lvl };
      if (component) rec.component = component;
      rec.msg = msg;
      for (const [k, v] of Object.entries(fields ?? {})) {
        if (v !== undefined) rec[k] = typeof v === 'bigint' ? v.toString() : v;
      }
      write(prefix + JSON.stringify(rec));
    } else {
      let line = `${journal ? prefix : `${now().toISOString()} `}${lvl.toUpperCase().padEnd(5)} ${component ? `[${component}] ` : ''}${msg}`;
      for (const [k, v] of Object.entries(fields ?? {})) {
        if (v === undefined) continue;
        const s = String(v);
        line += ` ${k}=${/[\s"=]/.test(s) ? JSON.stringify(s) : s}`;
      }
      write(line);
    }
  };

  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (c) => createLogger({ ...opts, component: component ? `${component}/${c}` : c }),
  };
}

/** A logger that drops everything; for tests and benches that do not care. */
export function silentLogger(): Logger {
  const l: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => l };
  return l;
}

/** A logger that records lines in memory; tests assert on what was logged. */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const l = createLogger({ level: 'debug', write: (s) => lines.push(s) });
  return Object.assign(l, { lines });
}
