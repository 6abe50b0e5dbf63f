// Builds a radio FrameTransport from a config entry's options, e.g. for
//   link.lora0.type=lora link.lora0.board=rak3172 link.lora0.device=/dev/ttyUSB0
//   link.lora0.region=EU868 link.lora0.sf=12
//   link.ham0.type=kiss link.ham0.callsign=N0CALL-7 link.ham0.tcp=127.0.0.1:8001
// the gateway passes { type: 'lora', board: 'rak3172', device: '/dev/ttyUSB0', region: 'EU868',
// sf: '12' } (keys without the `link.<name>.` prefix, plus `name`). Every value is validated with
// a ConfigError that names the key.
//
// Keys, all links: type (lora|kiss), name, board (a boards/*.json id), device (serial path),
//   baud, tcp (host:port, instead of device), dutycycle (only ever below the legal limit),
//   queue (frames waiting for airtime), attempts (per frame), direction (rx|tx|duplex).
// lora: region (EU868, US915, ...), frequency (MHz or Hz), sf, bw (kHz or Hz), cr (4/5 or 5),
//   preamble, txpower (dBm), timeout (command answer, ms); meshtastic also channel, hops.
// kiss: callsign (required: N0CALL-7), destination (default ALTNET), kissport (0-15),
//   txdelay, slottime, txtail (ms), persist (0-255), fullduplex; board defaults to direwolf
//   with tcp= and to kiss-tnc with device=.
import { ConfigError } from '../../util/errors.js';
import { findBoardProfile, loadBoardProfiles, REGIONS, type BoardProfile, type RegionName } from '../boards.js';
import type { FrameTransport, LinkDirection } from '../link.js';
import { KissTransport } from '../kiss/transport.js';
import type { LoraOverrides, LoraTransportOptions } from '../lora/common.js';
import { EbyteE22Transport } from '../lora/ebyte.js';
import { MeshtasticTransport } from '../lora/meshtastic.js';
import { Rak3172Transport } from '../lora/rak3172.js';
import { RNodeTransport } from '../lora/rnode.js';
import { Rn2483Transport } from '../lora/rn2483.js';
import { serialChannelFactory, tcpChannelFactory, type ChannelFactory } from './channel.js';
import type { RadioDeps } from './transport.js';

export interface RadioFactoryDeps extends RadioDeps {
  /** Profiles to choose from (default: loadBoardProfiles(boardsDir)). */
  profiles?: BoardProfile[];
  boardsDir?: string;
  /** Replaces serial/TCP opening (tests, BLE bridges). */
  openChannel?: ChannelFactory;
}

const COMMON_KEYS = ['type', 'name', 'board', 'device', 'baud', 'tcp', 'dutycycle', 'queue', 'attempts', 'direction'];
const LORA_KEYS = ['region', 'frequency', 'sf', 'bw', 'cr', 'preamble', 'txpower', 'channel', 'hops', 'timeout'];
const KISS_KEYS = ['callsign', 'destination', 'kissport', 'txdelay', 'persist', 'slottime', 'txtail', 'fullduplex'];

function intOpt(o: Record<string, string>, key: string, min: number, max: number): number | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v.trim()) || Number(v) < min || Number(v) > max) {
    throw new ConfigError('link_option_invalid', `${key}=${v}: must be an integer in [${min}, ${max}]`);
  }
  return Number(v);
}

function numOpt(o: Record<string, string>, key: string, min: number, max: number): number | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
    throw new ConfigError('link_option_invalid', `${key}=${v}: must be a number in [${min}, ${max}]`);
  }
  return n;
}

function boolOpt(o: Record<string, string>, key: string): boolean | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (['1', 'true', 'yes', 'on'].includes(v.toLowerCase())) return true;
  if (['0', 'false', 'no', 'off'].includes(v.toLowerCase())) return false;
  throw new ConfigError('link_option_invalid', `${key}=${v}: must be true or false`);
}

/** `868.1` (MHz) or `868100000` (Hz). */
function frequencyOpt(o: Record<string, string>): number | undefined {
  const v = o.frequency;
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new ConfigError('link_option_invalid', `frequency=${v}: give MHz (868.1) or Hz (868100000)`);
  return n < 10_000 ? Math.round(n * 1_000_000) : Math.round(n);
}

/** `125` (kHz) or `125000` (Hz). */
function bandwidthOpt(o: Record<string, string>): number | undefined {
  const v = o.bw;
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new ConfigError('link_option_invalid', `bw=${v}: give kHz (125) or Hz (125000)`);
  return n < 10_000 ? Math.round(n * 1000) : Math.round(n);
}

/** `4/5` or `5`. */
function codingRateOpt(o: Record<string, string>): number | undefined {
  const v = o.cr;
  if (v === undefined) return undefined;
  const m = /^(?:4\/)?([5-8])$/.exec(v.trim());
  if (!m) throw new ConfigError('link_option_invalid', `cr=${v}: must be 4/5, 4/6, 4/7 or 4/8`);
  return Number(m[1]);
}

function tcpOpt(v: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(v.trim());
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new ConfigError('link_option_invalid', `tcp=${v}: use host:port, e.g. 127.0.0.1:8001`);
  return { host: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

function channelFor(o: Record<string, string>, profile: BoardProfile, deps: RadioFactoryDeps): ChannelFactory {
  if (deps.openChannel) return deps.openChannel;
  if (o.tcp !== undefined || (!profile.transports.serial && profile.transports.tcp)) {
    if (!profile.transports.tcp && o.tcp === undefined) throw new ConfigError('link_option_missing', `board ${profile.id} has no TCP transport`);
    const { host, port } = o.tcp !== undefined ? tcpOpt(o.tcp) : { host: profile.transports.tcp!.defaultHost, port: profile.transports.tcp!.defaultPort };
    return tcpChannelFactory(host, port);
  }
  const serial = profile.transports.serial;
  if (!serial) {
    throw new ConfigError('link_transport_unsupported', `board ${profile.id} is reached over ${Object.keys(profile.transports).join('/')}, which this factory does not build (BLE links are separate)`);
  }
  if (!o.device) throw new ConfigError('link_option_missing', `device= is required for board ${profile.id} (e.g. device=/dev/ttyUSB0)`);
  const baud = intOpt(o, 'baud', 300, 4_000_000);
  return serialChannelFactory(o.device, { ...serial, baudRate: baud ?? serial.baudRate });
}

/** Validates `options` and builds the transport; nothing is opened until `open()`. */
export function createRadioTransport(options: Record<string, string>, deps: RadioFactoryDeps): FrameTransport {
  const o = Object.fromEntries(Object.entries(options).map(([k, v]) => [k.toLowerCase(), String(v)]));
  const type = o.type;
  if (type !== 'lora' && type !== 'kiss') throw new ConfigError('link_type_invalid', `type=${type ?? ''}: radio links are type=lora or type=kiss`);
  const known = [...COMMON_KEYS, ...(type === 'lora' ? LORA_KEYS : KISS_KEYS)];
  for (const k of Object.keys(o)) {
    if (!known.includes(k)) throw new ConfigError('link_option_unknown', `unknown option ${k} for a ${type} link; known: ${known.join(', ')}`);
  }
  const name = o.name ?? type;
  const profiles = deps.profiles ?? loadBoardProfiles(deps.boardsDir);
  const boardId = o.board ?? (type === 'kiss' ? (o.tcp !== undefined ? 'direwolf' : 'kiss-tnc') : undefined);
  if (!boardId) throw new ConfigError('link_option_missing', `board= is required for a lora link; known boards: ${profiles.map((p) => p.id).join(', ')}`);
  const profile = deps.profiles ? profiles.find((p) => p.id === boardId) : findBoardProfile(boardId, deps.boardsDir);
  if (!profile) throw new ConfigError('board_unknown', `unknown board "${boardId}"; known boards: ${profiles.map((p) => p.id).join(', ')}`);
  const direction = o.direction as LinkDirection | undefined;
  if (direction !== undefined && !['rx', 'tx', 'duplex'].includes(direction)) {
    throw new ConfigError('link_option_invalid', `direction=${direction}: must be rx, tx or duplex`);
  }
  const common = {
    name,
    openChannel: channelFor(o, profile, deps),
    queueLimit: intOpt(o, 'queue', 1, 100_000),
    maxAttempts: intOpt(o, 'attempts', 1, 100),
    dutyCycle: numOpt(o, 'dutycycle', 0.0001, 1),
  };

  if (type === 'kiss') {
    if (profile.dialect !== 'kiss') throw new ConfigError('board_dialect_mismatch', `board ${profile.id} speaks ${profile.dialect}, not KISS/AX.25; use type=lora`);
    return new KissTransport(
      {
        ...common,
        profile,
        callsign: o.callsign,
        destination: o.destination,
        kissPort: intOpt(o, 'kissport', 0, 15),
        txDelayMs: intOpt(o, 'txdelay', 0, 2550),
        persistence: intOpt(o, 'persist', 0, 255),
        slotTimeMs: intOpt(o, 'slottime', 0, 2550),
        txTailMs: intOpt(o, 'txtail', 0, 2550),
        fullDuplex: boolOpt(o, 'fullduplex'),
      },
      deps,
    );
  }

  let region: RegionName | undefined;
  if (o.region !== undefined) {
    region = o.region.toUpperCase() as RegionName;
    if (!REGIONS.includes(region)) throw new ConfigError('link_option_invalid', `region=${o.region}: must be one of ${REGIONS.join(', ')}`);
  }
  const radio: LoraOverrides = {
    region,
    frequencyHz: frequencyOpt(o),
    sf: intOpt(o, 'sf', 6, 12),
    bandwidthHz: bandwidthOpt(o),
    codingRate: codingRateOpt(o),
    preambleSymbols: intOpt(o, 'preamble', 6, 65535),
    txPowerDbm: intOpt(o, 'txpower', -9, 30),
  };
  const lora: LoraTransportOptions = { ...common, profile, radio, direction, commandTimeoutMs: intOpt(o, 'timeout', 10, 600_000) };
  switch (profile.dialect) {
    case 'rnode-kiss':
      return new RNodeTransport(lora, deps);
    case 'rak3172-at':
      return new Rak3172Transport(lora, deps);
    case 'rn2483':
      return new Rn2483Transport(lora, deps);
    case 'ebyte-transparent':
      return new EbyteE22Transport(lora, deps);
    case 'meshtastic-serial':
      return new MeshtasticTransport({ ...lora, channel: intOpt(o, 'channel', 0, 7), hopLimit: intOpt(o, 'hops', 0, 7) }, deps);
    case 'kiss':
      throw new ConfigError('board_dialect_mismatch', `board ${profile.id} is an AX.25 KISS TNC; use type=kiss with callsign=`);
    case 'nordic-uart':
      throw new ConfigError('link_transport_unsupported', `board ${profile.id} is a BLE UART; it is built by the BLE link, not here`);
  }
}
