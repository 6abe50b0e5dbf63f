// `link.<name>.*` options of a BLE link -> a BleTransport. Every mistake is a ConfigError that
// names the key and says what would be accepted.
//
//   link.ble0.type=ble
//   link.ble0.service=kiss | nus          BLE KISS TNC (Mobilinkd) or Nordic UART Service
//   link.ble0.name=TNC4                    advertised local name (exact), and/or
//   link.ble0.address=aa:bb:cc:dd:ee:ff    device address
//   link.ble0.board=mobilinkd              board profile for MTU/bitrate/callsign (default by service)
//   link.ble0.mtu=256                      largest frame payload, bytes (default: the board's)
//   link.ble0.hci=default | hci1 | uart:/dev/ttyACM0[@1000000]
//   link.ble0.att_mtu=247  scan_timeout_ms  connect_timeout_ms  write_timeout_ms
//   adapter_timeout_ms  reconnect_min_ms  reconnect_max_ms  queue_frames
//   link.ble0.direction=rx | tx | duplex   rx: only listen (no callsign needed), default duplex
//   link.ble0.callsign=N0CALL-7            amateur TNCs (service=kiss on an amateur board): required to transmit;
//   link.ble0.destination=ALTNET           frames go on air as AX.25 UI frames from it to destination
import { ConfigError } from '../../util/errors.js';
import { LinkOptions, linkOptionError, linkOptionMissing } from '../options.js';
import { BLE_OPTIONS } from './options.js';
import { findBoardProfile, type BoardProfile, type RegionName } from '../boards.js';
import type { FrameTransport, LinkCapabilities } from '../link.js';
import { MeshtasticTransport } from '../lora/meshtastic.js';
import { MESHTASTIC_BLE, meshtasticBleChannelFactory } from './meshtastic.js';
import type { HciSelection } from './noble.js';
import { AX25_MAX_INFO, parseCallsign } from '../kiss/ax25.js';
import { CallsignRequiredError } from '../radio/errors.js';
import {
  BLE_DEFAULTS,
  BleTransport,
  KISS_SERVICE,
  NUS_SERVICE,
  type BleServiceProfile,
  type BleTransportConfig,
  type BleTransportDeps,
} from './transport.js';

const DEFAULT_BOARD: Record<'kiss' | 'nus' | 'meshtastic', string> = { kiss: 'mobilinkd', nus: 'nordic-uart', meshtastic: 'meshtastic' };

export interface BleFactoryDeps extends BleTransportDeps {
  /** Link name when the options come without their `link.<name>.` prefix. */
  linkName?: string;
  /** Where board profiles live (tests); the installed boards/ directory by default. */
  boardsDir?: string;
  /** A board profile given directly instead of looked up. */
  board?: BoardProfile;
}

function invalid(link: string, key: string, value: string, what: string): ConfigError {
  return linkOptionError(link, key, value, what);
}

/** Accepts `{ service: 'kiss' }` or `{ 'link.ble0.service': 'kiss' }`. */
function normalise(options: Record<string, string>, fallbackName?: string): { link: string; opts: Map<string, string> } {
  const opts = new Map<string, string>();
  let link = fallbackName;
  for (const [rawKey, value] of Object.entries(options)) {
    let key = rawKey;
    if (rawKey.toLowerCase().startsWith('link.')) {
      const parts = rawKey.split('.');
      if (parts.length !== 3 || !parts[1] || !parts[2]) {
        throw new ConfigError('link-option-invalid', `"${rawKey}" should look like link.<name>.<key>, e.g. link.ble0.service=kiss`);
      }
      if (link !== undefined && link !== parts[1]) {
        throw new ConfigError('link-option-invalid', `options for link ${parts[1]} mixed with options for link ${link}`);
      }
      link = parts[1];
      key = parts[2];
    }
    opts.set(key.toLowerCase(), value.trim());
  }
  return { link: link ?? 'ble', opts };
}

export function parseHci(link: string, raw: string | undefined): HciSelection {
  if (raw === undefined || raw === '' || raw === 'default') return { kind: 'default' };
  const dev = /^hci(\d{1,2})$/.exec(raw);
  if (dev) return { kind: 'device', deviceId: Number(dev[1]) };
  const uart = /^uart:([^@]+)(?:@(\d+))?$/.exec(raw);
  if (uart) {
    const baudRate = uart[2] === undefined ? 1_000_000 : Number(uart[2]);
    if (baudRate < 1200 || baudRate > 12_000_000) throw invalid(link, 'hci', raw, 'baud rate must be 1200..12000000');
    return { kind: 'uart', port: uart[1], baudRate };
  }
  throw invalid(link, 'hci', raw, 'expected default, hciN (Linux controller number) or uart:/dev/ttyX[@baud]');
}

export function parseBleOptions(options: Record<string, string>, deps: Omit<BleFactoryDeps, 'log' | 'counters'> = {}): BleTransportConfig {
  const { link, opts: given } = normalise(options, deps.linkName);
  const type = given.get('type');
  if (type !== undefined && type.toLowerCase() !== 'ble') {
    throw invalid(link, 'type', type, 'this factory builds type=ble links');
  }
  given.delete('type');
  const o = new LinkOptions(link, 'BLE', BLE_OPTIONS, Object.fromEntries(given));
  const opts = { get: (k: string) => o.text(k), has: (k: string) => o.has(k) };

  const service = o.must<'kiss' | 'nus' | 'meshtastic'>('service');
  let profile: BleServiceProfile = service === 'kiss' ? KISS_SERVICE : service === 'nus' ? NUS_SERVICE : MESHTASTIC_BLE;
  if (service !== 'meshtastic' && o.has('region')) throw o.error('region', 'only Meshtastic nodes (service=meshtastic) take a region');

  const name = opts.get('name');
  if (name !== undefined && (name.length === 0 || Buffer.byteLength(name, 'utf8') > 29)) {
    throw invalid(link, 'name', name, 'an advertised name is 1 to 29 bytes');
  }
  let address = opts.get('address')?.toLowerCase();
  if (address !== undefined) {
    const bare = /^[0-9a-f]{12}$/.test(address) ? address.match(/../g)!.join(':') : address;
    if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(bare)) {
      throw invalid(link, 'address', address, 'expected six hex bytes, e.g. aa:bb:cc:dd:ee:ff');
    }
    address = bare;
  }
  if (name === undefined && address === undefined) {
    throw linkOptionMissing(
      link,
      'name',
      `say which peripheral to use: link.${link}.name=<advertised name> or link.${link}.address=aa:bb:cc:dd:ee:ff`,
    );
  }

  const boardId = o.string('board') ?? DEFAULT_BOARD[service];
  let board: BoardProfile;
  try {
    board = deps.board ?? findBoardProfile(boardId, deps.boardsDir);
  } catch (e) {
    throw invalid(link, 'board', boardId, e instanceof Error ? e.message : String(e));
  }
  const bleSettings = board.transports.ble;
  if (!bleSettings) throw invalid(link, 'board', board.id, `board ${board.id} has no BLE transport`);
  const expectedFraming = service === 'kiss' ? 'kiss' : service === 'nus' ? 'stream' : 'meshtastic-ble';
  if (bleSettings.framing !== expectedFraming) {
    throw invalid(link, 'board', board.id, `board ${board.id} speaks ${bleSettings.framing} over BLE, not service=${service}`);
  }
  profile = { ...profile, service: bleSettings.service, write: bleSettings.write, notify: bleSettings.notify };

  // Amateur radio: every transmission carries the operator's callsign, so an amateur KISS TNC
  // gets AX.25 UI framing and a link that can transmit is not built without a callsign.
  // Listening needs no licence: a receive-only link (direction=rx) needs none.
  const direction = o.must<LinkCapabilities['direction']>('direction');
  const amateurKiss = service === 'kiss' && board.amateur;
  let ax25: BleTransportConfig['ax25'];
  if (amateurKiss) {
    const callsign = opts.get('callsign');
    const missing = callsign === undefined || callsign.trim() === '';
    if (missing && direction !== 'rx') {
      throw new CallsignRequiredError(
        `link.${link} (board ${board.id}) is an amateur-radio TNC and has no callsign; set callsign= (or link.${link}.callsign=), or make the link receive-only (link.${link}.direction=rx, or run with --receive-only), which needs none`,
      );
    }
    ax25 = { source: missing ? undefined : parseCallsign(callsign), destination: parseCallsign(o.must<string>('destination')) };
  } else {
    for (const key of ['callsign', 'destination']) {
      if (o.has(key)) throw o.error(key, `only amateur-radio KISS TNCs use AX.25 addressing (board ${board.id} is not one)`);
    }
  }
  const mtuLimit = amateurKiss ? Math.min(AX25_MAX_INFO, board.radio.phyMaxPayload) : 65_535 - 5;
  const mtu = o.int('mtu') ?? Math.min(mtuLimit, board.radio.phyMaxPayload);
  if (mtu > mtuLimit) throw o.error('mtu', `expected a whole number from 1 to ${mtuLimit} for board ${board.id}`);
  const capabilities: LinkCapabilities = {
    direction,
    mtu,
    // A board without a radio bitrate (a plain BLE UART) is limited by BLE itself: 1 Mbit/s PHY.
    bitrate: board.radio.bitrate ?? 1_000_000,
    dutyCycle: 1,
    carries: ['headers', 'tx'],
    needsCallsign: board.amateur,
  };

  const reconnectMinMs = o.must<number>('reconnect_min_ms');
  const reconnectMaxMs = o.must<number>('reconnect_max_ms');
  if (reconnectMaxMs < reconnectMinMs) {
    throw invalid(link, 'reconnect_max_ms', String(reconnectMaxMs), `must be at least reconnect_min_ms (${reconnectMinMs})`);
  }

  return {
    linkName: link,
    profile,
    peripheralName: name,
    address,
    hci: parseHci(link, opts.get('hci')),
    capabilities,
    attMtu: o.must<number>('att_mtu'),
    adapterTimeoutMs: o.must<number>('adapter_timeout_ms'),
    scanTimeoutMs: o.must<number>('scan_timeout_ms'),
    connectTimeoutMs: o.must<number>('connect_timeout_ms'),
    writeTimeoutMs: o.must<number>('write_timeout_ms'),
    reconnectMinMs,
    reconnectMaxMs,
    maxQueuedFrames: o.must<number>('queue_frames'),
    maxSendAttempts: BLE_DEFAULTS.maxSendAttempts,
    ax25,
  };
}

/** Validates `link.<name>.*` options and builds a KISS or NUS transport (not yet opened). */
export function createBleTransport(options: Record<string, string>, deps: BleFactoryDeps): BleTransport {
  const cfg = parseBleOptions(options, deps);
  if (cfg.profile.framing === 'meshtastic')
    throw new ConfigError('link-option-invalid', 'service=meshtastic is built by createBleLinkTransport');
  return new BleTransport(cfg, deps);
}

/** Any `type=ble` link: KISS/NUS (BleTransport) or a Meshtastic node (its driver over BLE). */
export function createBleLinkTransport(options: Record<string, string>, deps: BleFactoryDeps): FrameTransport {
  const cfg = parseBleOptions(options, deps);
  if (cfg.profile.framing !== 'meshtastic') return new BleTransport(cfg, deps);
  // A Meshtastic node: the serial-API driver over a channel that speaks its BLE API.
  const { link, opts } = normalise(options, deps.linkName);
  const board = deps.board ?? findBoardProfile(opts.get('board') ?? DEFAULT_BOARD.meshtastic, deps.boardsDir);
  const region = opts.get('region')?.toUpperCase() as RegionName | undefined;
  return new MeshtasticTransport(
    {
      name: link,
      profile: board,
      radio: { region },
      direction: cfg.capabilities.direction,
      openChannel: meshtasticBleChannelFactory(cfg, deps),
      backoff: { initialMs: cfg.reconnectMinMs, maxMs: cfg.reconnectMaxMs },
    },
    deps,
  );
}
