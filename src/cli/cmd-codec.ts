// `altnet codec encode|decode|stats`: build and inspect frames as hex, and print the header
// codec's figures over a header file.
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CliIO } from './io.js';
import { flag, parseCommand, type CommandSpec } from './args.js';
import { ALTNET_VERSION } from '../util/version.js';
import { fromHex, hashToHex, toHex } from '../util/bytes.js';
import { AltnetError, ConfigError } from '../util/errors.js';
import { headerHash } from '../chain/header.js';
import {
  decodeAckBody,
  decodeFragmentBody,
  fragmentVersionOf,
  decodeFrame,
  decodeGetHeadersBody,
  decodeHeadersBody,
  encodeFrame,
  encodeHeadersBody,
  FrameType,
  type Frame,
  type Integrity,
} from '../codec/frames.js';
import { Fragmenter, Reassembler } from '../codec/fragment.js';
import { decodeHeaderStream, decodeTip, encodeHeaderStream, encodeTip, resolveTip, type BitsRule } from '../codec/headers.js';

const USAGE = `usage:
  altnet codec encode tip --header HEX --parent HEX --height N [--integrity crc16|crc32|none] [--seq N]
  altnet codec encode headers --parent HEX --parent-height N [--rule retarget|every] [--mtu N] [--integrity ...] HEADER_HEX...
  altnet codec encode tx|block HEX [--mtu N] [--integrity ...] [--repair N]
  altnet codec decode FRAME_HEX... [--integrity ...] [--parent HEX --parent-height N] [--rule retarget|every]
  altnet codec stats [--file HEADERS.bin] [--first-height N] [--rule retarget|every] [--json]

Options are written --key=value or --key value. Frames are printed and read as hex, one per
line or argument. decode prints one JSON object per frame and reassembles fragmented messages
given together. stats defaults to the shared mainnet file (ALTNET_SHARED_DATA or
../shared/data next to the repository) and prints a summary, or JSON with --json.`;

const TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(FrameType).map(([k, v]) => [v, k]));

interface Parsed {
  positional: string[];
  flags: Map<string, string>;
}

const SPEC: CommandSpec = {
  name: 'codec',
  options: [
    ...['header', 'parent', 'height', 'parent-height', 'integrity', 'seq', 'rule', 'mtu', 'repair', 'file', 'first-height'].map((name) => ({
      name,
      type: 'string' as const,
    })),
    { name: 'json', type: 'bool' },
  ],
};

function hexArg(p: Parsed, name: string): Uint8Array {
  const v = p.flags.get(name);
  if (v === undefined) throw new ConfigError('cli-flag', `--${name} HEX is required`);
  return hex(v, `--${name}`);
}

function hex(v: string, what: string): Uint8Array {
  try {
    return fromHex(v.trim());
  } catch {
    throw new ConfigError('cli-hex', `${what} is not hex`);
  }
}

function intArg(p: Parsed, name: string, dflt?: number): number {
  const v = p.flags.get(name);
  if (v === undefined) {
    if (dflt === undefined) throw new ConfigError('cli-flag', `--${name} N is required`);
    return dflt;
  }
  if (!/^\d+$/.test(v)) throw new ConfigError('cli-flag', `--${name} must be a non-negative integer, got "${v}"`);
  return Number(v);
}

function integrityArg(p: Parsed, dflt: Integrity): Integrity {
  const v = p.flags.get('integrity') ?? dflt;
  if (v !== 'none' && v !== 'crc16' && v !== 'crc32')
    throw new ConfigError('cli-flag', `--integrity must be none, crc16 or crc32, got "${v}"`);
  return v;
}

function ruleArg(p: Parsed): BitsRule {
  const v = p.flags.get('rule') ?? 'retarget';
  if (v !== 'retarget' && v !== 'every') throw new ConfigError('cli-flag', `--rule must be retarget or every, got "${v}"`);
  return v;
}

export async function run(args: string[], io: CliIO): Promise<number> {
  const parsed = parseCommand(args, SPEC, USAGE, io, ALTNET_VERSION);
  if (typeof parsed === 'number') return parsed;
  const [sub, ...rest] = parsed.positional;
  if (!sub) {
    io.err(USAGE);
    return 2;
  }
  const flags = new Map<string, string>();
  for (const [k, v] of parsed.values) if (typeof v === 'string') flags.set(k, v);
  if (flag(parsed, 'json')) flags.set('json', '1');
  const q = { positional: rest, flags };
  try {
    if (sub === 'encode') return encode(q, io);
    if (sub === 'decode') return decode(q, io);
    if (sub === 'stats') return stats(q, io);
    io.err(`altnet codec: unknown subcommand "${sub}"\n${USAGE}`);
    return 2;
  } catch (err) {
    if (err instanceof AltnetError) {
      io.err(`altnet codec: ${err.message} [${err.code}]`);
      return err instanceof ConfigError ? 2 : 1;
    }
    if (err instanceof RangeError || err instanceof TypeError) {
      io.err(`altnet codec: ${err.message}`);
      return 2;
    }
    throw err;
  }
}

function encode(p: Parsed, io: CliIO): number {
  const [kind, ...items] = p.positional;
  const integrity = integrityArg(p, 'crc16');
  if (kind === 'tip') {
    const body = encodeTip({ header: hexArg(p, 'header'), parent: hexArg(p, 'parent'), height: intArg(p, 'height') });
    const seq = p.flags.has('seq') ? intArg(p, 'seq') : undefined;
    io.out(toHex(encodeFrame(FrameType.TIP, body, { integrity, seq })));
    return 0;
  }
  const mtu = intArg(p, 'mtu', 255);
  const repair = p.flags.has('repair') ? intArg(p, 'repair') : undefined;
  const frag = new Fragmenter({ mtu, integrity });
  let frames: Uint8Array[];
  if (kind === 'headers') {
    const parent = hexArg(p, 'parent');
    const parentHeight = intArg(p, 'parent-height');
    const headers = items.map((h, i) => hex(h, `header ${i}`));
    const stream = encodeHeaderStream(headers, { parent, parentHeight, bitsRule: ruleArg(p) });
    const body = encodeHeadersBody({ parentHeight, parentPrefix: headerHash(parent), stream });
    frames = frag.fragment(FrameType.HEADERS, body, { repair });
  } else if (kind === 'tx' || kind === 'block') {
    if (items.length !== 1) throw new ConfigError('cli-args', `encode ${kind} takes one HEX argument`);
    frames = frag.fragment(kind === 'tx' ? FrameType.TX : FrameType.BLOCK, hex(items[0], kind), { repair });
  } else {
    throw new ConfigError('cli-args', `encode what? tip, headers, tx or block\n${USAGE}`);
  }
  for (const f of frames) io.out(toHex(f));
  return 0;
}

function describeBody(type: number, body: Uint8Array, p: Parsed): Record<string, unknown> {
  const parent = p.flags.has('parent') ? hexArg(p, 'parent') : undefined;
  switch (type) {
    case FrameType.TIP: {
      const t = decodeTip(body);
      const out: Record<string, unknown> = {
        height: t.height,
        parentPrefix: toHex(t.parentPrefix),
        merkleRoot: hashToHex(t.merkleRoot),
        nonce: t.nonce,
        fields: t.fields,
      };
      if (parent) {
        const h = resolveTip(t, parent);
        out.header = toHex(h);
        out.hash = hashToHex(headerHash(h));
      }
      return out;
    }
    case FrameType.HEADERS: {
      const b = decodeHeadersBody(body);
      const out: Record<string, unknown> = {
        parentHeight: b.parentHeight,
        parentPrefix: toHex(b.parentPrefix),
        streamBytes: b.stream.length,
      };
      if (parent) {
        const headers = decodeHeaderStream(b.stream, { parent, parentHeight: b.parentHeight, bitsRule: ruleArg(p) });
        out.headers = headers.map((h) => ({ hash: hashToHex(headerHash(h)), raw: toHex(h) }));
      }
      return out;
    }
    case FrameType.GETHEADERS: {
      const g = decodeGetHeadersBody(body);
      return { locator: g.locator.map((e) => ({ height: e.height, prefix: toHex(e.prefix) })), maxHeaders: g.maxHeaders };
    }
    case FrameType.ACK:
      return { ...decodeAckBody(body) };
    case FrameType.FRAGMENT:
    case FrameType.FRAGMENT_V3: {
      const f = decodeFragmentBody(body, fragmentVersionOf(type));
      return {
        msgId: f.msgId,
        innerType: TYPE_NAMES[f.innerType] ?? f.innerType,
        k: f.k,
        index: f.index,
        repair: f.index >= f.k,
        symbolBytes: f.symbol.length,
      };
    }
    default:
      return { bytes: body.length, hex: toHex(body) };
  }
}

function decode(p: Parsed, io: CliIO): number {
  if (p.positional.length === 0) throw new ConfigError('cli-args', `decode needs at least one FRAME_HEX\n${USAGE}`);
  const integrity = p.flags.has('integrity') ? integrityArg(p, 'crc16') : undefined;
  const rx = new Reassembler({ integrity: integrity ?? 'crc16', maxBytesPerSender: 64 << 20, maxBytesTotal: 64 << 20, maxK: 4096 });
  let bad = 0;
  for (const [i, arg] of p.positional.entries()) {
    let frame: Frame;
    try {
      frame = decodeFrame(hex(arg, `frame ${i}`), { integrity });
      const out: Record<string, unknown> = {
        frame: i,
        type: TYPE_NAMES[frame.type] ?? frame.type,
        integrity: frame.integrity,
        poll: frame.poll,
        bytes: arg.length / 2,
      };
      if (frame.seq !== undefined) out.seq = frame.seq;
      out.body = describeBody(frame.type, frame.body, p);
      io.out(JSON.stringify(out));
      if (fragmentVersionOf(frame.type) !== undefined) {
        // A reassembler checks one integrity mode; without --integrity, use the frame's own.
        const res = (integrity ? rx : reassemblerFor(frame.integrity)).receive(hex(arg, 'frame'), 'cli', 0);
        for (const m of res.messages) {
          io.out(
            JSON.stringify({
              reassembled: TYPE_NAMES[m.type] ?? m.type,
              bytes: m.payload.length,
              body: describeBody(m.type, m.payload, p),
            }),
          );
        }
      }
    } catch (err) {
      if (!(err instanceof AltnetError)) throw err;
      bad++;
      io.out(JSON.stringify({ frame: i, error: err.code, message: err.message }));
    }
  }
  return bad ? 1 : 0;
}

const byIntegrity = new Map<Integrity, Reassembler>();
function reassemblerFor(integrity: Integrity): Reassembler {
  let r = byIntegrity.get(integrity);
  if (!r) {
    r = new Reassembler({ integrity, maxBytesPerSender: 64 << 20, maxBytesTotal: 64 << 20, maxK: 4096 });
    byIntegrity.set(integrity, r);
  }
  return r;
}

function defaultHeaderFile(io: CliIO): string {
  const dir = io.env.ALTNET_SHARED_DATA;
  if (dir) return resolve(dir, 'mainnet-headers-822528-830592.bin');
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(resolve(d, 'package.json'))) {
    const up = dirname(d);
    if (up === d) break;
    d = up;
  }
  return resolve(d, '..', 'shared', 'data', 'mainnet-headers-822528-830592.bin');
}

function stats(p: Parsed, io: CliIO): number {
  const file = p.flags.get('file') ? resolve(io.cwd, p.flags.get('file')!) : defaultHeaderFile(io);
  let raw: Uint8Array;
  try {
    raw = new Uint8Array(readFileSync(file));
  } catch (err) {
    throw new ConfigError('cli-file', `cannot read ${file}: ${(err as Error).message}; give a file of raw 80-byte headers with --file`);
  }
  if (raw.length < 160 || raw.length % 80 !== 0) {
    throw new ConfigError('cli-file', `${file} is not a file of at least two raw 80-byte headers (${raw.length} bytes)`);
  }
  const fromName = /headers-(\d+)-\d+\.bin$/.exec(basename(file));
  const firstHeight = intArg(p, 'first-height', fromName ? Number(fromName[1]) : 0);
  const bitsRule = ruleArg(p);
  const headers: Uint8Array[] = [];
  for (let o = 0; o < raw.length; o += 80) headers.push(raw.subarray(o, o + 80));
  const ctx = { parent: headers[0], parentHeight: firstHeight, bitsRule };
  const encoded = encodeHeaderStream(headers.slice(1), ctx);
  const decoded = decodeHeaderStream(encoded, ctx);
  const roundTrip = decoded.every((h, i) => Buffer.compare(h, headers[i + 1]) === 0);
  const n = headers.length - 1;
  let tipSum = 0;
  let tipMax = 0;
  let tipOk = true;
  for (let i = 1; i < headers.length; i++) {
    const body = encodeTip({ header: headers[i], height: firstHeight + i, parent: headers[i - 1] });
    const frame = encodeFrame(FrameType.TIP, body, { integrity: 'crc16' });
    tipSum += frame.length;
    tipMax = Math.max(tipMax, frame.length);
    if (Buffer.compare(resolveTip(decodeTip(decodeFrame(frame).body), headers[i - 1]), headers[i]) !== 0) tipOk = false;
  }
  const result = {
    file,
    headers: n,
    firstCodedHeight: firstHeight + 1,
    stream: { bytes: encoded.length, bytesPerHeader: +(encoded.length / n).toFixed(3), rawBytesPerHeader: 80, roundTrip },
    tipFrameCrc16: { meanBytes: +(tipSum / n).toFixed(3), maxBytes: tipMax, fitsLoRaSF12: tipMax <= 51, roundTrip: tipOk },
  };
  if (p.flags.has('json')) io.out(JSON.stringify(result, null, 2));
  else {
    io.out(`${n} headers from ${file} (heights ${firstHeight + 1}..${firstHeight + n})`);
    io.out(
      `stream:   ${result.stream.bytesPerHeader} bytes/header instead of 80 (${encoded.length} bytes), round trip ${roundTrip ? 'exact' : 'FAILED'}`,
    );
    io.out(
      `tip+crc:  mean ${result.tipFrameCrc16.meanBytes} bytes, max ${tipMax}${tipMax <= 51 ? ' (fits one LoRa SF12 packet)' : ''}, round trip ${tipOk ? 'exact' : 'FAILED'}`,
    );
  }
  return roundTrip && tipOk ? 0 : 1;
}
