// Builds a radio FrameTransport from a config entry's options, e.g. for
//   link.lora0.type=lora link.lora0.board=rak3172 link.lora0.device=/dev/ttyUSB0
//   link.lora0.region=EU868 link.lora0.sf=12
//   link.ham0.type=kiss link.ham0.callsign=N0CALL-7 link.ham0.tcp=127.0.0.1:8001
// the gateway passes { type: 'lora', board: 'rak3172', device: '/dev/ttyUSB0', region: 'EU868',
// sf: '12' } (keys without the `link.<name>.` prefix, plus `name`). The keys, their forms, ranges
// and defaults are the tables in ./options.ts (LORA_OPTIONS, KISS_OPTIONS); every mistake is a
// ConfigError reading `link.<name>.<key>=<value>: ...`. For kiss the board defaults to direwolf
// with tcp= and to kiss-tnc with device=.
import { ConfigError } from '../../util/errors.js';
import { findBoardProfile, loadBoardProfiles, type BoardProfile, type RegionName } from '../boards.js';
import { linkOptionError, readLinkOptions, type LinkOptions } from '../options.js';
import { KISS_OPTIONS, LORA_OPTIONS } from './options.js';
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

/** `868.1` (MHz) or `868100000` (Hz). */
function frequencyHz(o: LinkOptions): number | undefined {
  const n = o.number('frequency');
  return n === undefined ? undefined : n < 10_000 ? Math.round(n * 1_000_000) : Math.round(n);
}

/** `125` (kHz) or `125000` (Hz). */
function bandwidthHz(o: LinkOptions): number | undefined {
  const n = o.number('bw');
  return n === undefined ? undefined : n < 10_000 ? Math.round(n * 1000) : Math.round(n);
}

/** `4/5` or `5`. */
function codingRate(o: LinkOptions): number | undefined {
  const v = o.string('cr');
  return v === undefined ? undefined : Number(v.slice(-1));
}

function channelFor(o: LinkOptions, profile: BoardProfile, deps: RadioFactoryDeps): ChannelFactory {
  if (deps.openChannel) return deps.openChannel;
  const tcp = o.hostPort('tcp');
  if (tcp !== undefined || (!profile.transports.serial && profile.transports.tcp)) {
    const { host, port } = tcp ?? { host: profile.transports.tcp!.defaultHost, port: profile.transports.tcp!.defaultPort };
    return tcpChannelFactory(host, port);
  }
  const serial = profile.transports.serial;
  if (!serial) {
    throw new ConfigError(
      'link-transport-unsupported',
      `link.${o.name}.board=${profile.id}: reached over ${Object.keys(profile.transports).join('/')}, ` +
        'which this factory does not build (BLE links are separate)',
    );
  }
  const device = o.string('device');
  if (!device)
    throw new ConfigError('link-option-missing', `link.${o.name}.device= is required for board ${profile.id} (e.g. device=/dev/ttyUSB0)`);
  return serialChannelFactory(device, { ...serial, baudRate: o.int('baud') ?? serial.baudRate });
}

/** Validates `options` and builds the transport; nothing is opened until `open()`. */
export function createRadioTransport(options: Record<string, string>, deps: RadioFactoryDeps): FrameTransport {
  const lower = Object.fromEntries(Object.entries(options).map(([k, v]) => [k.toLowerCase(), String(v)]));
  const type = lower.type;
  const name = lower.name ?? type;
  if (type !== 'lora' && type !== 'kiss')
    throw linkOptionError(name ?? 'radio', 'type', type ?? '', 'radio links are type=lora or type=kiss');
  const o = readLinkOptions(lower, type, type, type === 'lora' ? LORA_OPTIONS : KISS_OPTIONS);
  const profiles = deps.profiles ?? loadBoardProfiles(deps.boardsDir);
  const boardId = o.string('board') ?? (type === 'kiss' ? (o.has('tcp') ? 'direwolf' : 'kiss-tnc') : undefined);
  if (!boardId) {
    throw new ConfigError(
      'link-option-missing',
      `link.${name}.board= is required for a lora link; known boards: ${profiles.map((p) => p.id).join(', ')}`,
    );
  }
  const profile = deps.profiles ? profiles.find((p) => p.id === boardId) : findBoardProfile(boardId, deps.boardsDir);
  if (!profile)
    throw new ConfigError(
      'board-unknown',
      `link.${name}.board=${boardId}: unknown board "${boardId}"; known boards: ${profiles.map((p) => p.id).join(', ')}`,
    );
  const direction = o.enum<LinkDirection>('direction');
  const common = {
    name,
    openChannel: channelFor(o, profile, deps),
    queueLimit: o.int('queue'),
    maxAttempts: o.int('attempts'),
    dutyCycle: o.number('dutycycle'),
    burstShare: o.number('burst'),
  };

  if (type === 'kiss') {
    if (profile.dialect !== 'kiss') {
      throw new ConfigError(
        'board-dialect-mismatch',
        `link.${name}.board=${profile.id}: speaks ${profile.dialect}, not KISS/AX.25; use type=lora`,
      );
    }
    return new KissTransport(
      {
        ...common,
        profile,
        callsign: o.string('callsign'),
        direction,
        destination: o.string('destination'),
        kissPort: o.int('kissport'),
        txDelayMs: o.int('txdelay'),
        persistence: o.int('persist'),
        slotTimeMs: o.int('slottime'),
        txTailMs: o.int('txtail'),
        fullDuplex: o.bool('fullduplex'),
      },
      deps,
    );
  }

  const radio: LoraOverrides = {
    region: o.enum<RegionName>('region'),
    frequencyHz: frequencyHz(o),
    sf: o.int('sf'),
    bandwidthHz: bandwidthHz(o),
    codingRate: codingRate(o),
    preambleSymbols: o.int('preamble'),
    txPowerDbm: o.int('txpower'),
  };
  const lora: LoraTransportOptions = { ...common, profile, radio, direction, commandTimeoutMs: o.int('timeout') };
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
      return new MeshtasticTransport({ ...lora, channel: o.int('channel'), hopLimit: o.int('hops') }, deps);
    case 'kiss':
      throw new ConfigError('board-dialect-mismatch', `link.${name}.board=${profile.id}: an AX.25 KISS TNC; use type=kiss with callsign=`);
    case 'nordic-uart':
      throw new ConfigError(
        'link-transport-unsupported',
        `link.${name}.board=${profile.id}: a BLE UART; it is built by the BLE link (type=ble), not here`,
      );
  }
}
