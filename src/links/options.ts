// Link options (`link.<name>.<key>=value`): the shape of an option table, the one checker for a
// value against its row, and the reader every driver's factory uses. A mistake always reads
//   link.<name>.<key>=<value>: <what is wrong and what would be accepted>
// with a kebab-case code: link-option-unknown, link-option-invalid, link-option-missing.
// Pure: strings in, typed values or problems out; no I/O.
import { ConfigError } from '../util/errors.js';
import { parseHostPort, type HostPort } from '../util/net.js';
import { closest } from '../util/suggest.js';

export type LinkOptionType = 'int' | 'number' | 'bool' | 'enum' | 'string' | 'hostport' | 'path' | 'url';

/** One row of a link type's option table. */
export interface LinkOptionSpec {
  key: string;
  type: LinkOptionType;
  /** One sentence for `altnet help links`. */
  help: string;
  /** The value used when the key is absent, as it would be written in altnet.conf. */
  default?: string;
  /** When the default is not a constant (e.g. "the board's"): what it is, for help text. */
  defaultNote?: string;
  /** int, number: inclusive bounds. */
  min?: number;
  max?: number;
  /** int, number: the unit of the value, for help text (ms, kHz, dBm, bytes...). */
  unit?: string;
  /** enum: the allowed values (matched case-insensitively, returned as written here). */
  values?: readonly string[];
  /** enum: a few words on what each value means. */
  valueHelp?: Readonly<Record<string, string>>;
  /** The link does not start without it; `example` is shown in the error. */
  required?: boolean;
  /** A value that would be accepted, shown in help and in "is required" errors. */
  example?: string;
  /** url: the schemes accepted (without `://`). */
  schemes?: readonly string[];
  /** string: a pattern the value must match, and how to describe it. */
  pattern?: RegExp;
  patternHint?: string;
}

export type LinkOptionCode = 'link-option-unknown' | 'link-option-invalid' | 'link-option-missing';

/** A problem with one option, as `validateLinkOptions` returns it. */
export interface LinkOptionProblem {
  code: LinkOptionCode;
  /** The offending key (for a missing option, the key that should be set). */
  key: string;
  /** The value as given; undefined for a missing option. */
  value?: string;
  /** `link.<name>.<key>=<value>: ...`, ready to show. */
  message: string;
  /** For an unknown key: the closest known one. */
  suggestion?: string;
}

/** Keys every link has whatever its type (the config requires `type`). */
export const UNIVERSAL_KEYS = ['type'] as const;

export const TRUE_WORDS = ['1', 'true', 'yes', 'on'] as const;
export const FALSE_WORDS = ['0', 'false', 'no', 'off'] as const;

/**
 * Rows the internet sources share, one place for their forms and bounds; each driver picks its
 * defaults and words. `what` completes "How long ... may take".
 */
export const SOURCE_ROWS = {
  timeout: (dflt: number, what = 'one request'): LinkOptionSpec => ({
    key: 'timeout',
    type: 'int',
    min: 100,
    max: 600_000,
    unit: 'ms',
    default: String(dflt),
    help: `How long ${what} may take.`,
  }),
  /** Per minute: a token bucket of `burst` tokens refilled at this rate (source/limits.ts). */
  rate: (dflt: number, unit: 'requests' | 'queries'): LinkOptionSpec => ({
    key: 'rate',
    type: 'int',
    min: 0,
    max: 600_000,
    unit: `${unit}/min`,
    default: String(dflt),
    help: `${unit[0].toUpperCase()}${unit.slice(1)} per minute at most to this server, whatever asks (polls, the gateway, a rescue); 0: unlimited (your own server).`,
  }),
  burst: (dflt: number, unit: 'requests' | 'queries'): LinkOptionSpec => ({
    key: 'burst',
    type: 'int',
    min: 1,
    max: 10_000,
    default: String(dflt),
    help: `${unit[0].toUpperCase()}${unit.slice(1)} that may go out at once before the rate applies.`,
  }),
  maxHeaders: (dflt: number, max: number): LinkOptionSpec => ({
    key: 'maxheaders',
    type: 'int',
    min: 1,
    max,
    default: String(dflt),
    help: 'Most headers delivered per request from the gateway.',
  }),
  poll: (what: string): LinkOptionSpec => ({
    key: 'poll',
    type: 'int',
    min: 0,
    max: 86_400_000,
    unit: 'ms',
    default: '120000',
    help: `Ask ${what} for new headers this often (0: only when asked); after failures the wait is drawn from a window that doubles from 1 min up to 30 min, until it answers.`,
  }),
  /** Read by SourceLink through source/polite.ts. */
  blockDelay: (what: string): LinkOptionSpec => ({
    key: 'blockdelay',
    type: 'int',
    min: 0,
    max: 3_600_000,
    unit: 'ms',
    default: '150000',
    help: `After another link brings a new block, ask ${what} at a random moment within this long, not at once, so its users do not all ask in the same second (0: at once).`,
  }),
  /** Sources that also fetch blocks and send transactions can be told not to serve headers. */
  headers: (what: string): LinkOptionSpec => ({
    key: 'headers',
    type: 'enum',
    values: ['1', '0'],
    valueHelp: { 1: 'headers, blocks and transactions', 0: 'blocks and transactions only' },
    default: '1',
    help: `Ask ${what} for headers (0: use it only to fetch blocks and send transactions).`,
  }),
  /** Read by readProxyOption (source/dial.ts); `altnet run` fills it in from the global proxy=. */
  proxy: (): LinkOptionSpec => ({
    key: 'proxy',
    type: 'string',
    pattern: /^(off|\[[0-9A-Fa-f:.]+\]:\d{1,5}|[^\s:\[\]]+:\d{1,5})$/,
    patternHint: 'host:port of a SOCKS5 proxy, or off',
    example: '127.0.0.1:9050',
    defaultNote: 'the global proxy=',
    help: 'SOCKS5 proxy (e.g. Tor) to connect through; the proxy resolves the name, this link looks up none. off: connect directly even when proxy= is set.',
  }),
} as const;

/** The error a driver throws for a bad option; the message reads `link.<name>.<key>=<value>: <why>`. */
export function linkOptionError(name: string, key: string, value: string | undefined, why: string): ConfigError {
  const at = value === undefined ? `link.${name}.${key}` : `link.${name}.${key}=${value}`;
  return new ConfigError('link-option-invalid', `${at}: ${why}`);
}

/** The error a driver throws for an option it needs and did not get. */
export function linkOptionMissing(name: string, key: string, hint: string): ConfigError {
  return new ConfigError('link-option-missing', `link.${name}.${key} is required: ${hint}`);
}

function rangeText(s: LinkOptionSpec): string {
  const unit = s.unit ? ` ${s.unit}` : '';
  if (s.min !== undefined && s.max !== undefined) return `from ${s.min} to ${s.max}${unit}`;
  if (s.min !== undefined) return `of at least ${s.min}${unit}`;
  if (s.max !== undefined) return `of at most ${s.max}${unit}`;
  return unit ? `in${unit}` : '';
}

/** What a value of this row looks like, in words (errors and help). */
export function describeOption(s: LinkOptionSpec): string {
  switch (s.type) {
    case 'int':
      return `a whole number ${rangeText(s)}`.trim();
    case 'number':
      return `a number ${rangeText(s)}`.trim();
    case 'bool':
      return '1 or 0';
    case 'enum': {
      if (!s.valueHelp) return `one of ${s.values!.join(', ')}`;
      const words = s.values!.map((v) => (s.valueHelp![v] ? `${v} (${s.valueHelp![v]})` : v));
      return words.length === 1 ? words[0] : `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}`;
    }
    case 'hostport':
      return 'host:port (or [ipv6]:port)';
    case 'path':
      return 'a file path';
    case 'url':
      return `an ${(s.schemes ?? ['http', 'https']).map((x) => `${x}://`).join(' or ')} URL${s.example ? `, e.g. ${s.example}` : ''}`;
    case 'string':
      return s.patternHint ?? 'text';
  }
}

type Parsed = string | number | boolean | HostPort;

/** Checks one value against its row: the parsed value, or why it is wrong. Empty counts as absent. */
export function parseLinkOptionValue(s: LinkOptionSpec, raw: string): { ok: true; value: Parsed } | { ok: false; why: string } {
  const v = raw.trim();
  const bad = (why: string) => ({ ok: false as const, why });
  switch (s.type) {
    case 'int':
    case 'number': {
      const n = s.type === 'int' ? (/^-?\d+$/.test(v) ? Number(v) : NaN) : v === '' ? NaN : Number(v);
      if (!Number.isFinite(n)) return bad(`expected ${describeOption(s)}`);
      if ((s.min !== undefined && n < s.min) || (s.max !== undefined && n > s.max)) return bad(`expected ${describeOption(s)}`);
      return { ok: true, value: n };
    }
    case 'bool': {
      const lower = v.toLowerCase();
      if ((TRUE_WORDS as readonly string[]).includes(lower)) return { ok: true, value: true };
      if ((FALSE_WORDS as readonly string[]).includes(lower)) return { ok: true, value: false };
      return bad('expected 1 or 0 (true/false, yes/no, on/off)');
    }
    case 'enum': {
      const hit = s.values!.find((x) => x.toLowerCase() === v.toLowerCase());
      return hit === undefined ? bad(`expected ${describeOption(s)}`) : { ok: true, value: hit };
    }
    case 'hostport':
      try {
        return { ok: true, value: parseHostPort(v) };
      } catch (e) {
        return bad((e as Error).message);
      }
    case 'path':
      return v.includes('\0') ? bad('contains a NUL byte') : { ok: true, value: v };
    case 'url': {
      let u: URL;
      try {
        u = new URL(v);
      } catch {
        return bad(`not a URL; expected ${describeOption(s)}`);
      }
      const schemes = s.schemes ?? ['http', 'https'];
      return schemes.includes(u.protocol.slice(0, -1)) ? { ok: true, value: v } : bad(`expected ${describeOption(s)}`);
    }
    case 'string':
      if (s.pattern && !s.pattern.test(v)) return bad(`expected ${describeOption(s)}`);
      return { ok: true, value: v };
  }
}

/**
 * Every problem with a link's options against its table: unknown keys (with the closest known
 * one), values of the wrong form or out of range, required keys missing. `label` names the link
 * type in messages ("BLE", "lora"). Empty list: the table has nothing against them (a driver
 * may still refuse a combination, e.g. a board without the transport asked for).
 */
export function checkLinkOptions(
  name: string,
  label: string,
  table: readonly LinkOptionSpec[],
  options: Record<string, string>,
): LinkOptionProblem[] {
  const problems: LinkOptionProblem[] = [];
  const byKey = new Map(table.map((s) => [s.key, s]));
  const known = [...UNIVERSAL_KEYS, ...table.map((s) => s.key)];
  for (const [key, value] of Object.entries(options)) {
    if ((UNIVERSAL_KEYS as readonly string[]).includes(key)) continue;
    const spec = byKey.get(key);
    if (!spec) {
      const suggestion = closest(key, known);
      const hint = suggestion ? ` (did you mean ${suggestion}?)` : '';
      problems.push({
        code: 'link-option-unknown',
        key,
        value,
        suggestion,
        message:
          `link.${name}.${key} is not ${/^[aeiou]/i.test(label) ? 'an' : 'a'} ${label} link option: ` +
          `unknown option ${key}${hint}; known: ${known.join(', ')}`,
      });
      continue;
    }
    if (value.trim() === '') continue;
    const r = parseLinkOptionValue(spec, value);
    if (!r.ok) problems.push({ code: 'link-option-invalid', key, value, message: `link.${name}.${key}=${value}: ${r.why}` });
  }
  for (const s of table) {
    if (s.required && (options[s.key] ?? '').trim() === '') {
      const eg = s.example !== undefined ? `, e.g. ${s.example}` : `: ${describeOption(s)}`;
      problems.push({ code: 'link-option-missing', key: s.key, message: `link.${name}.${s.key} is required${eg}` });
    }
  }
  return problems;
}

/**
 * A driver's view of its options: built from the table, it throws the first problem as a
 * ConfigError (so a typo never passes silently), then hands out typed values with the table's
 * defaults applied. Getters return undefined for an absent key without a default.
 */
export class LinkOptions {
  private readonly byKey: Map<string, LinkOptionSpec>;

  constructor(
    readonly name: string,
    label: string,
    table: readonly LinkOptionSpec[],
    private readonly raw: Record<string, string>,
  ) {
    const first = checkLinkOptions(name, label, table, raw)[0];
    if (first) throw new ConfigError(first.code, first.message);
    this.byKey = new Map(table.map((s) => [s.key, s]));
  }

  /** The value as written (trimmed), else the default as written, else undefined. */
  text(key: string): string | undefined {
    const v = this.raw[key]?.trim();
    return v === undefined || v === '' ? this.spec(key).default : v;
  }

  /** Whether the key was given (non-empty). */
  has(key: string): boolean {
    return (this.raw[key] ?? '').trim() !== '';
  }

  int(key: string): number | undefined {
    return this.value(key) as number | undefined;
  }

  number(key: string): number | undefined {
    return this.value(key) as number | undefined;
  }

  bool(key: string): boolean | undefined {
    return this.value(key) as boolean | undefined;
  }

  enum<T extends string>(key: string): T | undefined {
    return this.value(key) as T | undefined;
  }

  string(key: string): string | undefined {
    return this.value(key) as string | undefined;
  }

  hostPort(key: string): HostPort | undefined {
    return this.value(key) as HostPort | undefined;
  }

  /** Like the typed getters, for a key whose row has a default or is required. */
  must<T extends Parsed>(key: string): T {
    const v = this.value(key);
    if (v === undefined) throw new Error(`link option ${key} has neither a value nor a default`);
    return v as T;
  }

  /** An error about one of this link's options, in the common form. */
  error(key: string, why: string): ConfigError {
    return linkOptionError(this.name, key, this.raw[key] ?? this.spec(key).default, why);
  }

  private spec(key: string): LinkOptionSpec {
    const s = this.byKey.get(key);
    if (!s) throw new Error(`link option ${key} is not in this driver's table`);
    return s;
  }

  private value(key: string): Parsed | undefined {
    const s = this.spec(key);
    const text = this.text(key);
    if (text === undefined) return undefined;
    const r = parseLinkOptionValue(s, text);
    if (!r.ok) throw linkOptionError(this.name, key, text, r.why); // a bad default: a bug in the table
    return r.value;
  }
}

/**
 * The start of a driver's factory: the link's name (`name`, put there by the registry; default:
 * the type), a check that `type` (when given) is this driver's, and the rest read against the
 * driver's table.
 */
export function readLinkOptions(
  options: Record<string, string>,
  type: string,
  label: string,
  table: readonly LinkOptionSpec[],
): LinkOptions {
  const { name = type, type: given, ...rest } = options;
  if (given !== undefined && given !== type) throw linkOptionError(name, 'type', given, `this driver is ${type}`);
  return new LinkOptions(name, label, table, rest);
}
