// One line per event that matters. Human-readable by default, JSON lines with `json: true`.
// Loggers are values passed to constructors, never module globals.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

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
    const ts = now().toISOString();
    if (opts.json) {
      const rec: Record<string, unknown> = { ts, level: lvl };
      if (component) rec.component = component;
      rec.msg = msg;
      for (const [k, v] of Object.entries(fields ?? {})) {
        if (v !== undefined) rec[k] = typeof v === 'bigint' ? v.toString() : v;
      }
      write(JSON.stringify(rec));
    } else {
      let line = `${ts} ${lvl.toUpperCase().padEnd(5)} ${component ? `[${component}] ` : ''}${msg}`;
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
