// What every LoRa driver shares: resolving radio settings from the region's on-air profile (or,
// for radios whose firmware fixes them, the board profile) plus user overrides (validated,
// ConfigError on nonsense), the regional rule (duty cycle, dwell time), the MTU for the data
// rate, and the airtime of a frame as the modem will send it (radio/airtime.ts frameAirtimeMs).
import { maxPayloadFor, type BoardProfile, type RegionName } from '../boards.js';
import type { LinkCapabilities, LinkDirection } from '../link.js';
import { frameAirtimeMs, largestFrameWithin, loraBitrate, onAirPackets, type LoraAirtimeParams } from '../radio/airtime.js';
import { ON_AIR_PROFILES, PROFILE_DIALECTS, rnodePreambleSymbols } from './onair.js';
import type { ChannelFactory } from '../radio/channel.js';
import { regionRule, type RegionRule } from '../radio/regions.js';
import type { BackoffPolicy, RadioTransportOptions } from '../radio/transport.js';
import { ConfigError } from '../../util/errors.js';

export interface LoraRadioSettings extends LoraAirtimeParams {
  region: RegionName;
  frequencyHz: number;
  txPowerDbm: number;
  /** SX127x one-byte form; undefined when the firmware fixes it (Meshtastic, E22). */
  syncWord?: number;
  invertIq: boolean;
}

export interface LoraOverrides {
  region?: RegionName;
  frequencyHz?: number;
  sf?: number;
  bandwidthHz?: number;
  codingRate?: number;
  preambleSymbols?: number;
  txPowerDbm?: number;
}

export interface LoraTransportOptions {
  name: string;
  profile: BoardProfile;
  openChannel: ChannelFactory;
  radio?: LoraOverrides;
  /** Override of the regional duty cycle (only ever lower it: the law sets the ceiling). */
  dutyCycle?: number;
  /** Largest share of the window's airtime budget one burst may use (DutyCycleLimiter burstShare). */
  burstShare?: number;
  direction?: LinkDirection;
  queueLimit?: number;
  maxAttempts?: number;
  backoff?: BackoffPolicy;
  /** How long to wait for a command's answer. */
  commandTimeoutMs?: number;
}

const BANDWIDTHS = [7800, 10400, 15600, 20800, 31250, 41700, 62500, 125000, 250000, 500000];

export function resolveLoraSettings(profile: BoardProfile, over: LoraOverrides = {}): LoraRadioSettings {
  const d = profile.radio.lora;
  if (!d) throw new ConfigError('board-not-lora', `board "${profile.id}" has no LoRa radio`);
  const region = over.region ?? (Object.keys(profile.radio.regions)[0] as RegionName | undefined);
  if (!region) throw new ConfigError('region-missing', `board "${profile.id}" lists no regions; set link.<name>.region`);
  const reg = profile.radio.regions[region];
  if (!reg) {
    throw new ConfigError(
      'region-unsupported',
      `board "${profile.id}" does not support region ${region}; it supports ${Object.keys(profile.radio.regions).join(', ')}`,
    );
  }
  // Radios whose host protocol sets the PHY use the region's shared on-air profile, so that
  // different makes hear each other; the others keep what their firmware fixes (board profile).
  const air = PROFILE_DIALECTS.includes(profile.dialect) ? ON_AIR_PROFILES[region] : undefined;
  const sf = over.sf ?? air?.sf ?? d.sf;
  const bandwidthHz = over.bandwidthHz ?? air?.bandwidthHz ?? d.bandwidthHz;
  const codingRate = over.codingRate ?? air?.codingRate ?? d.codingRate;
  const s: LoraRadioSettings = {
    region,
    frequencyHz: over.frequencyHz ?? air?.frequencyHz ?? reg.defaultFrequencyHz,
    sf,
    bandwidthHz,
    codingRate,
    // The profile's preamble is the one the RNode firmware computes and cannot change.
    preambleSymbols: over.preambleSymbols ?? (air ? rnodePreambleSymbols(sf, bandwidthHz, codingRate) : d.preambleSymbols),
    explicitHeader: air?.explicitHeader ?? d.explicitHeader,
    crc: air?.crc ?? d.crc,
    lowDataRateOptimize: d.lowDataRateOptimize,
    txPowerDbm: over.txPowerDbm ?? d.txPowerDbm,
    syncWord: air?.syncWord ?? d.syncWord,
    invertIq: air?.invertIq ?? false,
  };
  if (s.frequencyHz < reg.minFrequencyHz || s.frequencyHz > reg.maxFrequencyHz) {
    throw new ConfigError(
      'frequency-out-of-region',
      `frequency ${s.frequencyHz} Hz is outside ${region} (${reg.minFrequencyHz}-${reg.maxFrequencyHz} Hz)`,
    );
  }
  if (!Number.isInteger(s.sf) || s.sf < 6 || s.sf > 12)
    throw new ConfigError('lora-sf-invalid', `spreading factor must be 6..12, got ${s.sf}`);
  if (!BANDWIDTHS.includes(s.bandwidthHz)) {
    throw new ConfigError('lora-bw-invalid', `bandwidth must be one of ${BANDWIDTHS.join(', ')} Hz, got ${s.bandwidthHz}`);
  }
  if (![5, 6, 7, 8].includes(s.codingRate))
    throw new ConfigError('lora-cr-invalid', `coding rate must be 5..8 (4/5..4/8), got ${s.codingRate}`);
  if (!Number.isInteger(s.preambleSymbols) || s.preambleSymbols < 6 || s.preambleSymbols > 65535) {
    throw new ConfigError('lora-preamble-invalid', `preamble must be 6..65535 symbols, got ${s.preambleSymbols}`);
  }
  if (!Number.isInteger(s.txPowerDbm) || s.txPowerDbm < -9 || s.txPowerDbm > 30) {
    throw new ConfigError('lora-power-invalid', `TX power must be -9..30 dBm, got ${s.txPowerDbm}`);
  }
  return s;
}

export interface LoraPlan {
  settings: LoraRadioSettings;
  rule: RegionRule;
  dutyCycle: number;
  mtu: number;
  capabilities: LinkCapabilities;
  airtimeOf(frameBytes: number): number;
  base(o: LoraTransportOptions): RadioTransportOptions;
}

/**
 * Settings, regional rule, MTU and airtime for a driver. `dialectMax` is the dialect's own limit
 * on one frame (RAK3172 AT+PSEND: 250 bytes); what it adds on air comes from onAirPackets.
 */
export function planLora(o: LoraTransportOptions, dialectMax: number): LoraPlan {
  const settings = resolveLoraSettings(o.profile, o.radio);
  const rule = regionRule(settings.region, settings.frequencyHz);
  if (o.dutyCycle !== undefined && !(o.dutyCycle > 0 && o.dutyCycle <= rule.dutyCycle)) {
    throw new ConfigError(
      'duty-cycle-invalid',
      `duty cycle ${o.dutyCycle} is not in (0, ${rule.dutyCycle}] (the legal limit at ${settings.frequencyHz} Hz in ${settings.region})`,
    );
  }
  const dutyCycle = o.dutyCycle ?? rule.dutyCycle;
  const dialect = o.profile.dialect;
  const airtimeOf = (n: number) => frameAirtimeMs(dialect, o.profile.radio.airtime, settings, n);
  // Largest frame whose on-air packets each fit the data rate's payload limit.
  const limit = maxPayloadFor(o.profile, settings.region, settings.sf, settings.bandwidthHz);
  let mtu = dialectMax;
  while (mtu > 0 && onAirPackets(dialect, mtu).some((p) => p > limit)) mtu--;
  // The largest frame whose airtime, overhead included, fits the dwell time and the duty-cycle
  // budget of one window (the limiter refuses a longer one outright: SF12 at 0.1% allows 3.6 s).
  const longest = Math.min(rule.maxDwellMs ?? Infinity, dutyCycle < 1 ? dutyCycle * rule.windowMs : Infinity);
  mtu = largestFrameWithin(mtu, airtimeOf, longest);
  if (mtu < 1) {
    throw new ConfigError(
      'lora-rate-unusable',
      `SF${settings.sf}/${settings.bandwidthHz / 1000} kHz leaves no payload in ${settings.region}` +
        (rule.maxDwellMs ? ` (dwell time ${rule.maxDwellMs} ms)` : ` (duty-cycle budget ${longest.toFixed(0)} ms per window)`) +
        '; use a lower spreading factor or wider bandwidth',
    );
  }
  const bitrate = o.profile.radio.airtime.model === 'bitrate' ? o.profile.radio.airtime.bitrate : loraBitrate(settings);
  const capabilities: LinkCapabilities = {
    direction: o.direction ?? 'duplex',
    mtu,
    bitrate,
    dutyCycle,
    carries: ['headers', 'tx'],
    needsCallsign: false,
  };
  return {
    settings,
    rule,
    dutyCycle,
    mtu,
    capabilities,
    airtimeOf,
    base: (opts) => ({
      name: opts.name,
      capabilities,
      openChannel: opts.openChannel,
      duty: { dutyCycle, windowMs: rule.windowMs, maxDwellMs: rule.maxDwellMs, burstShare: opts.burstShare },
      airtimeOf,
      queueLimit: opts.queueLimit,
      maxAttempts: opts.maxAttempts,
      backoff: opts.backoff,
    }),
  };
}

/** Upper-case hex as AT modems (RUI3, RN2483) expect it. */
export function toModemHex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex').toUpperCase();
}

/** Parses modem hex; undefined when it is not even-length hex or longer than `max` bytes. */
export function parseModemHex(s: string, max = 255): Uint8Array | undefined {
  if (s.length === 0 || s.length % 2 || s.length > max * 2 || !/^[0-9a-fA-F]+$/.test(s)) return undefined;
  return new Uint8Array(Buffer.from(s, 'hex'));
}

/** Serialises multi-command sequences (a receive re-arm must not cut into a transmit sequence). */
export class Sequencer {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
  }
}
