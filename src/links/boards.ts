// Board profiles: one JSON file per device family under boards/. A profile says how to reach the
// device (serial, TCP, BLE), which protocol dialect it speaks, what its radio can carry per data
// rate, how to compute airtime, which regional duty cycle applies, and which USB ids it shows up
// with (for udev rules and `altnet boards`). Profiles are user-editable files, so everything is
// validated here with errors that name the file and the field.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../util/errors.js';

export type TransportKind = 'serial' | 'tcp' | 'ble';

export type Dialect =
  | 'kiss' // plain KISS TNC (AX.25 frames inside)
  | 'rnode-kiss' // RNode firmware: KISS with radio parameter commands, raw LoRa payloads
  | 'rak3172-at' // RAKwireless RUI3 AT command set, LoRa P2P mode
  | 'rn2483' // Microchip RN2483/RN2903 `radio` commands
  | 'ebyte-transparent' // Ebyte E22 transparent UART (we add our own length prefix)
  | 'meshtastic-serial' // Meshtastic serial API (0x94 0xC3, protobuf ToRadio/FromRadio)
  | 'nordic-uart'; // Nordic UART Service over BLE (byte stream)

export const DIALECTS: readonly Dialect[] = [
  'kiss',
  'rnode-kiss',
  'rak3172-at',
  'rn2483',
  'ebyte-transparent',
  'meshtastic-serial',
  'nordic-uart',
];

export type RegionName = 'EU868' | 'US915' | 'EU433' | 'AU915' | 'AS923' | 'IN865' | 'KR920' | 'HAM';
export const REGIONS: readonly RegionName[] = ['EU868', 'US915', 'EU433', 'AU915', 'AS923', 'IN865', 'KR920', 'HAM'];

export interface SerialSettings {
  baudRate: number;
  dataBits: 5 | 6 | 7 | 8;
  stopBits: 1 | 2;
  parity: 'none' | 'even' | 'odd';
  rtscts: boolean;
  /** Line terminator the device expects on commands (AT dialects); absent for binary dialects. */
  lineEnding?: '\r\n' | '\n' | '\r';
  /** Longest line we accept from the device before discarding it as garbage. */
  maxLineBytes?: number;
}

export interface TcpSettings {
  defaultHost: string;
  defaultPort: number;
}

export interface BleSettings {
  /** GATT service UUID (lower-case, 128-bit with dashes). */
  service: string;
  /** Characteristic we write to (device RX). */
  write: string;
  /** Characteristic we subscribe to (device TX). */
  notify: string;
  /** Byte dialect spoken over the characteristic pair. */
  framing: 'kiss' | 'stream' | 'meshtastic-ble';
}

export interface UsbId {
  /** 4 lower-case hex digits, as udev's ATTRS{idVendor}. */
  vendorId: string;
  productId: string;
  /** The USB bridge or MCU that presents this id (CP2102, CH340, STM32 VCP...). */
  chip: string;
  /** 'documented': from the vendor or the firmware source; 'best-guess': seen on common boards. */
  confidence: 'documented' | 'best-guess';
  note?: string;
}

export interface LoraDefaults {
  sf: number; // 5..12
  bandwidthHz: number;
  /** Coding rate denominator: 5 means 4/5 ... 8 means 4/8. */
  codingRate: 5 | 6 | 7 | 8;
  preambleSymbols: number;
  explicitHeader: boolean;
  crc: boolean;
  /** 'auto' turns low-data-rate optimisation on when the symbol time exceeds 16 ms (Semtech). */
  lowDataRateOptimize: 'auto' | boolean;
  txPowerDbm: number;
  syncWord?: number;
}

export interface RegionSettings {
  defaultFrequencyHz: number;
  minFrequencyHz: number;
  maxFrequencyHz: number;
  /** Legal share of airtime at the default frequency (EU868 g3 sub-band 869.4-869.65 MHz: 0.1). */
  dutyCycle: number;
  /** Longest single transmission allowed (US915 FCC dwell time: 400 ms). */
  maxDwellMs?: number;
}

/**
 * Airtime model: 'lora' uses the Semtech formula with the radio's parameters; 'bitrate' is
 * bytes*8/bitrate plus a fixed overhead (AFSK TNCs, transparent modems with a fixed air rate).
 */
export type AirtimeModel =
  { model: 'lora' } | { model: 'bitrate'; bitrate: number; overheadMs: number; overheadBytes: number } | { model: 'none' };

export interface RadioSettings {
  modulation: 'lora' | 'afsk1200' | 'none';
  /** Hardware limit of one radio payload, bytes. */
  phyMaxPayload: number;
  /**
   * Regional limit per data rate, keyed `SF<sf>BW<kHz>` (e.g. `SF12BW125`); the smaller of
   * this and phyMaxPayload applies. Absent entries mean phyMaxPayload.
   */
  maxPayload?: Partial<Record<RegionName, Record<string, number>>>;
  lora?: LoraDefaults;
  airtime: AirtimeModel;
  regions: Partial<Record<RegionName, RegionSettings>>;
  /** Nominal raw bit rate for capabilities when not LoRa (AFSK 1200, E22 air rate). */
  bitrate?: number;
}

export interface BoardProfile {
  /** Short id used in config (`link.lora0.board=rak3172`), equal to the file name. */
  id: string;
  name: string;
  dialect: Dialect;
  transports: { serial?: SerialSettings; tcp?: TcpSettings; ble?: BleSettings };
  radio: RadioSettings;
  usb: UsbId[];
  /** Amateur-radio device: links built on it need an operator callsign. */
  amateur: boolean;
  notes?: string[];
  /** Where each non-obvious value came from. */
  sources?: string[];
  /** The file the profile was loaded from (set by the loader). */
  file?: string;
}

// ---------------------------------------------------------------------------------------------
// Validation

class Checker {
  constructor(private readonly source: string) {}

  fail(path: string, what: string): never {
    throw new ConfigError(
      'board-profile-invalid',
      `${this.source}: ${path || '(root)'} ${what}; fix the board profile (schema: src/links/boards.ts)`,
    );
  }

  obj(v: unknown, path: string): Record<string, unknown> {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(path, 'must be an object');
    return v as Record<string, unknown>;
  }

  str(v: unknown, path: string, pattern?: RegExp): string {
    if (typeof v !== 'string' || v.length === 0) this.fail(path, 'must be a non-empty string');
    if (pattern && !pattern.test(v)) this.fail(path, `must match ${pattern}`);
    return v;
  }

  int(v: unknown, path: string, min: number, max: number): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.fail(path, `must be an integer in [${min}, ${max}]`);
    }
    return v;
  }

  num(v: unknown, path: string, min: number, max: number): number {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
      this.fail(path, `must be a number in [${min}, ${max}]`);
    }
    return v;
  }

  bool(v: unknown, path: string): boolean {
    if (typeof v !== 'boolean') this.fail(path, 'must be true or false');
    return v;
  }

  oneOf<T extends string | number>(v: unknown, path: string, allowed: readonly T[]): T {
    if (!allowed.includes(v as T)) this.fail(path, `must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`);
    return v as T;
  }

  strings(v: unknown, path: string): string[] {
    if (!Array.isArray(v)) this.fail(path, 'must be an array of strings');
    return v.map((s, i) => this.str(s, `${path}[${i}]`));
  }

  noExtra(o: Record<string, unknown>, path: string, keys: readonly string[]): void {
    for (const k of Object.keys(o)) {
      if (!keys.includes(k)) this.fail(path ? `${path}.${k}` : k, `is not a known field (known: ${keys.join(', ')})`);
    }
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const HEX4 = /^[0-9a-f]{4}$/;
const RATE_KEY = /^SF([5-9]|1[0-2])BW(7\.8|10\.4|15\.6|20\.8|31\.25|41\.7|62\.5|125|250|500|203\.125|406\.25|812\.5|1625)$/;

function checkSerial(c: Checker, v: unknown, p: string): SerialSettings {
  const o = c.obj(v, p);
  c.noExtra(o, p, ['baudRate', 'dataBits', 'stopBits', 'parity', 'rtscts', 'lineEnding', 'maxLineBytes']);
  const s: SerialSettings = {
    baudRate: c.int(o.baudRate, `${p}.baudRate`, 300, 4_000_000),
    dataBits: c.oneOf(o.dataBits ?? 8, `${p}.dataBits`, [5, 6, 7, 8] as const),
    stopBits: c.oneOf(o.stopBits ?? 1, `${p}.stopBits`, [1, 2] as const),
    parity: c.oneOf(o.parity ?? 'none', `${p}.parity`, ['none', 'even', 'odd'] as const),
    rtscts: o.rtscts === undefined ? false : c.bool(o.rtscts, `${p}.rtscts`),
  };
  if (o.lineEnding !== undefined) s.lineEnding = c.oneOf(o.lineEnding, `${p}.lineEnding`, ['\r\n', '\n', '\r'] as const);
  if (o.maxLineBytes !== undefined) s.maxLineBytes = c.int(o.maxLineBytes, `${p}.maxLineBytes`, 16, 65536);
  return s;
}

function checkTcp(c: Checker, v: unknown, p: string): TcpSettings {
  const o = c.obj(v, p);
  c.noExtra(o, p, ['defaultHost', 'defaultPort']);
  return { defaultHost: c.str(o.defaultHost, `${p}.defaultHost`), defaultPort: c.int(o.defaultPort, `${p}.defaultPort`, 1, 65535) };
}

function checkBle(c: Checker, v: unknown, p: string): BleSettings {
  const o = c.obj(v, p);
  c.noExtra(o, p, ['service', 'write', 'notify', 'framing']);
  return {
    service: c.str(o.service, `${p}.service`, UUID),
    write: c.str(o.write, `${p}.write`, UUID),
    notify: c.str(o.notify, `${p}.notify`, UUID),
    framing: c.oneOf(o.framing, `${p}.framing`, ['kiss', 'stream', 'meshtastic-ble'] as const),
  };
}

function checkLora(c: Checker, v: unknown, p: string): LoraDefaults {
  const o = c.obj(v, p);
  c.noExtra(o, p, [
    'sf',
    'bandwidthHz',
    'codingRate',
    'preambleSymbols',
    'explicitHeader',
    'crc',
    'lowDataRateOptimize',
    'txPowerDbm',
    'syncWord',
  ]);
  const l: LoraDefaults = {
    sf: c.int(o.sf, `${p}.sf`, 5, 12),
    bandwidthHz: c.int(o.bandwidthHz, `${p}.bandwidthHz`, 7800, 1_625_000),
    codingRate: c.oneOf(o.codingRate, `${p}.codingRate`, [5, 6, 7, 8] as const),
    preambleSymbols: c.int(o.preambleSymbols, `${p}.preambleSymbols`, 2, 65535),
    explicitHeader: c.bool(o.explicitHeader, `${p}.explicitHeader`),
    crc: c.bool(o.crc, `${p}.crc`),
    lowDataRateOptimize: o.lowDataRateOptimize === 'auto' ? 'auto' : c.bool(o.lowDataRateOptimize, `${p}.lowDataRateOptimize`),
    txPowerDbm: c.int(o.txPowerDbm, `${p}.txPowerDbm`, -9, 30),
  };
  if (o.syncWord !== undefined) l.syncWord = c.int(o.syncWord, `${p}.syncWord`, 0, 0xffff);
  return l;
}

function checkAirtime(c: Checker, v: unknown, p: string): AirtimeModel {
  const o = c.obj(v, p);
  const model = c.oneOf(o.model, `${p}.model`, ['lora', 'bitrate', 'none'] as const);
  if (model === 'bitrate') {
    c.noExtra(o, p, ['model', 'bitrate', 'overheadMs', 'overheadBytes']);
    return {
      model,
      bitrate: c.num(o.bitrate, `${p}.bitrate`, 1, 100_000_000),
      overheadMs: c.num(o.overheadMs ?? 0, `${p}.overheadMs`, 0, 60_000),
      overheadBytes: c.int(o.overheadBytes ?? 0, `${p}.overheadBytes`, 0, 4096),
    };
  }
  c.noExtra(o, p, ['model']);
  return { model };
}

function checkRegion(c: Checker, v: unknown, p: string): RegionSettings {
  const o = c.obj(v, p);
  c.noExtra(o, p, ['defaultFrequencyHz', 'minFrequencyHz', 'maxFrequencyHz', 'dutyCycle', 'maxDwellMs']);
  const r: RegionSettings = {
    defaultFrequencyHz: c.int(o.defaultFrequencyHz, `${p}.defaultFrequencyHz`, 1_000_000, 6_000_000_000),
    minFrequencyHz: c.int(o.minFrequencyHz, `${p}.minFrequencyHz`, 1_000_000, 6_000_000_000),
    maxFrequencyHz: c.int(o.maxFrequencyHz, `${p}.maxFrequencyHz`, 1_000_000, 6_000_000_000),
    dutyCycle: c.num(o.dutyCycle, `${p}.dutyCycle`, 0.0001, 1),
  };
  if (r.minFrequencyHz > r.maxFrequencyHz) c.fail(`${p}.minFrequencyHz`, 'must not exceed maxFrequencyHz');
  if (r.defaultFrequencyHz < r.minFrequencyHz || r.defaultFrequencyHz > r.maxFrequencyHz) {
    c.fail(`${p}.defaultFrequencyHz`, 'must lie within [minFrequencyHz, maxFrequencyHz]');
  }
  if (o.maxDwellMs !== undefined) r.maxDwellMs = c.int(o.maxDwellMs, `${p}.maxDwellMs`, 1, 3_600_000);
  return r;
}

function checkRadio(c: Checker, v: unknown, p: string): RadioSettings {
  const o = c.obj(v, p);
  c.noExtra(o, p, ['modulation', 'phyMaxPayload', 'maxPayload', 'lora', 'airtime', 'regions', 'bitrate']);
  const r: RadioSettings = {
    modulation: c.oneOf(o.modulation, `${p}.modulation`, ['lora', 'afsk1200', 'none'] as const),
    phyMaxPayload: c.int(o.phyMaxPayload, `${p}.phyMaxPayload`, 1, 65535),
    airtime: checkAirtime(c, o.airtime, `${p}.airtime`),
    regions: {},
  };
  if (o.lora !== undefined) r.lora = checkLora(c, o.lora, `${p}.lora`);
  if (r.modulation === 'lora' && !r.lora) c.fail(`${p}.lora`, 'is required when modulation is "lora"');
  if (r.airtime.model === 'lora' && !r.lora) c.fail(`${p}.airtime.model`, 'is "lora" but radio.lora is missing');
  if (o.bitrate !== undefined) r.bitrate = c.num(o.bitrate, `${p}.bitrate`, 1, 100_000_000);
  const regions = c.obj(o.regions ?? {}, `${p}.regions`);
  for (const [name, rv] of Object.entries(regions)) {
    const region = c.oneOf(name, `${p}.regions.${name}`, REGIONS);
    r.regions[region] = checkRegion(c, rv, `${p}.regions.${name}`);
  }
  if (o.maxPayload !== undefined) {
    const mp = c.obj(o.maxPayload, `${p}.maxPayload`);
    r.maxPayload = {};
    for (const [name, table] of Object.entries(mp)) {
      const region = c.oneOf(name, `${p}.maxPayload.${name}`, REGIONS);
      const t = c.obj(table, `${p}.maxPayload.${name}`);
      const out: Record<string, number> = {};
      for (const [key, n] of Object.entries(t)) {
        c.str(key, `${p}.maxPayload.${name}.${key}`, RATE_KEY);
        out[key] = c.int(n, `${p}.maxPayload.${name}.${key}`, 1, r.phyMaxPayload);
      }
      r.maxPayload[region] = out;
    }
  }
  return r;
}

function checkUsb(c: Checker, v: unknown, p: string): UsbId {
  const o = c.obj(v, p);
  c.noExtra(o, p, ['vendorId', 'productId', 'chip', 'confidence', 'note']);
  const u: UsbId = {
    vendorId: c.str(o.vendorId, `${p}.vendorId`, HEX4),
    productId: c.str(o.productId, `${p}.productId`, HEX4),
    chip: c.str(o.chip, `${p}.chip`),
    confidence: c.oneOf(o.confidence, `${p}.confidence`, ['documented', 'best-guess'] as const),
  };
  if (o.note !== undefined) u.note = c.str(o.note, `${p}.note`);
  return u;
}

/** Validates a parsed JSON value as a board profile. `source` names it in error messages. */
export function parseBoardProfile(json: unknown, source = 'board profile'): BoardProfile {
  const c = new Checker(source);
  const o = c.obj(json, '');
  c.noExtra(o, '', ['$schema', 'id', 'name', 'dialect', 'transports', 'radio', 'usb', 'amateur', 'notes', 'sources']);
  const t = c.obj(o.transports, 'transports');
  c.noExtra(t, 'transports', ['serial', 'tcp', 'ble']);
  const transports: BoardProfile['transports'] = {};
  if (t.serial !== undefined) transports.serial = checkSerial(c, t.serial, 'transports.serial');
  if (t.tcp !== undefined) transports.tcp = checkTcp(c, t.tcp, 'transports.tcp');
  if (t.ble !== undefined) transports.ble = checkBle(c, t.ble, 'transports.ble');
  if (!transports.serial && !transports.tcp && !transports.ble) c.fail('transports', 'must declare at least one of serial, tcp, ble');
  const usbList: unknown[] = Array.isArray(o.usb) ? o.usb : c.fail('usb', 'must be an array (empty when the device has no USB side)');
  const profile: BoardProfile = {
    id: c.str(o.id, 'id', /^[a-z0-9][a-z0-9-]*$/),
    name: c.str(o.name, 'name'),
    dialect: c.oneOf(o.dialect, 'dialect', DIALECTS),
    transports,
    radio: checkRadio(c, o.radio, 'radio'),
    usb: usbList.map((u: unknown, i: number) => checkUsb(c, u, `usb[${i}]`)),
    amateur: c.bool(o.amateur, 'amateur'),
  };
  if (o.notes !== undefined) profile.notes = c.strings(o.notes, 'notes');
  if (o.sources !== undefined) profile.sources = c.strings(o.sources, 'sources');
  return profile;
}

/** Reads and validates one profile file; its `id` must equal the file name without `.json`. */
export function loadBoardProfile(file: string): BoardProfile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('board-profile-unreadable', `${file}: cannot read board profile (${(err as Error).message})`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError('board-profile-invalid', `${file}: not valid JSON (${(err as Error).message}); fix the file`, { cause: err });
  }
  const profile = parseBoardProfile(json, file);
  const base = file.replace(/^.*[\\/]/, '').replace(/\.json$/, '');
  if (profile.id !== base) {
    throw new ConfigError('board-profile-invalid', `${file}: id "${profile.id}" must equal the file name "${base}"; rename one of them`);
  }
  profile.file = file;
  return profile;
}

/** The repository's boards/ directory (works from src/ under vitest and from dist/ when compiled). */
export function defaultBoardsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'boards'))) return join(dir, 'boards');
    const up = dirname(dir);
    if (up === dir) throw new ConfigError('boards-dir-missing', 'cannot find the boards/ directory; pass its path explicitly');
    dir = up;
  }
}

/** Every `*.json` profile in `dir` (default: the repository's boards/), sorted by id. */
export function loadBoardProfiles(dir?: string): BoardProfile[] {
  const root = resolve(dir ?? defaultBoardsDir());
  let names: string[];
  try {
    names = readdirSync(root).filter((n) => n.endsWith('.json'));
  } catch (err) {
    throw new ConfigError('boards-dir-missing', `${root}: cannot list board profiles (${(err as Error).message})`, { cause: err });
  }
  return names
    .sort()
    .map((n) => loadBoardProfile(join(root, n)))
    .sort((a, b) => a.id.localeCompare(b.id));
}

/** One profile by id, with the list of known ids in the error when it does not exist. */
export function findBoardProfile(id: string, dir?: string): BoardProfile {
  const all = loadBoardProfiles(dir);
  const hit = all.find((p) => p.id === id);
  if (!hit) {
    throw new ConfigError('board-unknown', `unknown board "${id}"; known boards: ${all.map((p) => p.id).join(', ')}`);
  }
  return hit;
}

/** Largest payload for a LoRa data rate in a region: min(phy limit, regional table entry). */
export function maxPayloadFor(profile: BoardProfile, region: RegionName, sf: number, bandwidthHz: number): number {
  const key = `SF${sf}BW${formatKhz(bandwidthHz)}`;
  const regional = profile.radio.maxPayload?.[region]?.[key];
  return Math.min(profile.radio.phyMaxPayload, regional ?? profile.radio.phyMaxPayload);
}

function formatKhz(hz: number): string {
  return String(Math.round(hz / 10) / 100);
}

/** Profiles that match a USB vendor/product id pair (hex, any case). */
export function profilesForUsb(profiles: BoardProfile[], vendorId: string, productId: string): BoardProfile[] {
  const v = vendorId.toLowerCase();
  const p = productId.toLowerCase();
  return profiles.filter((b) => b.usb.some((u) => u.vendorId === v && u.productId === p));
}
