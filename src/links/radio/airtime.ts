// LoRa time on air from the Semtech formula (SX1272/SX1276 datasheets, AN1200.13 "LoRa Modem
// Designer's Guide"), and the airtime of one altnet frame as each dialect really puts it on air
// (frameAirtimeMs: the single source of truth for the duty-cycle limiter, the MTU, `altnet
// probe` and the beacon schedule). Pure: parameters in, milliseconds out.
import type { AirtimeModel, Dialect, LoraDefaults } from '../boards.js';
import { lowDataRateFor, rnodePreambleSymbols, RNODE_HEADER_BYTES, RNODE_SINGLE_PAYLOAD } from '../lora/onair.js';

export interface LoraAirtimeParams {
  sf: number;
  bandwidthHz: number;
  /** Coding rate denominator: 5 => 4/5 ... 8 => 4/8. */
  codingRate: number;
  preambleSymbols: number;
  explicitHeader: boolean;
  crc: boolean;
  lowDataRateOptimize: 'auto' | boolean;
}

/**
 * The LoRa settings of a plain point-to-point link at `sf` (the simulated air, the demo): explicit
 * header, CRC on, 8 preamble symbols, low-data-rate optimisation where the datasheet requires it.
 */
export function loraParams(sf: number, bandwidthHz = 125_000, codingRate = 5): LoraAirtimeParams {
  return { sf, bandwidthHz, codingRate, preambleSymbols: 8, explicitHeader: true, crc: true, lowDataRateOptimize: 'auto' };
}

/** Symbol duration in ms. */
export function loraSymbolMs(sf: number, bandwidthHz: number): number {
  return (2 ** sf / bandwidthHz) * 1000;
}

/** Whether low-data-rate optimisation is on: forced, or (auto) when a symbol lasts over 16 ms. */
export function loraLowDataRate(p: Pick<LoraAirtimeParams, 'sf' | 'bandwidthHz' | 'lowDataRateOptimize'>): boolean {
  if (p.lowDataRateOptimize !== 'auto') return p.lowDataRateOptimize;
  return loraSymbolMs(p.sf, p.bandwidthHz) > 16;
}

/** Number of payload symbols (including the 8 fixed ones) for `payloadBytes`. */
export function loraPayloadSymbols(payloadBytes: number, p: LoraAirtimeParams): number {
  const de = loraLowDataRate(p) ? 1 : 0;
  const ih = p.explicitHeader ? 0 : 1;
  const crc = p.crc ? 1 : 0;
  const cr = p.codingRate - 4;
  const num = 8 * payloadBytes - 4 * p.sf + 28 + 16 * crc - 20 * ih;
  const den = 4 * (p.sf - 2 * de);
  return 8 + Math.max(Math.ceil(num / den) * (cr + 4), 0);
}

/** Time on air of one LoRa packet with `payloadBytes` of payload, in ms. */
export function loraAirtimeMs(payloadBytes: number, p: LoraAirtimeParams): number {
  if (!Number.isInteger(payloadBytes) || payloadBytes < 0 || payloadBytes > 255) {
    throw new RangeError(`LoRa payload must be 0..255 bytes, got ${payloadBytes}`);
  }
  if (!Number.isInteger(p.sf) || p.sf < 6 || p.sf > 12) throw new RangeError(`spreading factor must be 6..12, got ${p.sf}`);
  if (!(p.codingRate >= 5 && p.codingRate <= 8)) throw new RangeError(`coding rate must be 5..8 (4/5..4/8), got ${p.codingRate}`);
  const tsym = loraSymbolMs(p.sf, p.bandwidthHz);
  const preamble = (p.preambleSymbols + 4.25) * tsym;
  return preamble + loraPayloadSymbols(payloadBytes, p) * tsym;
}

/** Largest payload whose airtime stays within `limitMs` (US915 dwell time), or 0 if none. */
export function loraMaxPayloadForDwell(limitMs: number, p: LoraAirtimeParams, ceiling = 255): number {
  let best = -1;
  for (let n = 0; n <= ceiling; n++) {
    if (loraAirtimeMs(n, p) <= limitMs) best = n;
    else break;
  }
  return Math.max(best, 0);
}

/**
 * The largest frame of at most `mtu` bytes whose airtime fits `limitMs` (the dwell time, or a
 * whole window's duty-cycle budget, which the limiter never exceeds for one frame), or 0.
 */
export function largestFrameWithin(mtu: number, airtimeOf: (bytes: number) => number, limitMs: number): number {
  let n = mtu;
  while (n > 0 && airtimeOf(n) > limitMs) n--;
  return n;
}

/** Raw LoRa bit rate, bits/s: SF * BW / 2^SF * 4/CR. */
export function loraBitrate(p: Pick<LoraAirtimeParams, 'sf' | 'bandwidthHz' | 'codingRate'>): number {
  return ((p.sf * p.bandwidthHz) / 2 ** p.sf) * (4 / p.codingRate);
}

/** Airtime for any board's model: LoRa formula, bit-rate model, or none (BLE: 0). */
export function airtimeMs(model: AirtimeModel, lora: LoraAirtimeParams | undefined, payloadBytes: number): number {
  switch (model.model) {
    case 'lora':
      if (!lora) throw new RangeError('LoRa airtime needs LoRa parameters');
      return loraAirtimeMs(payloadBytes, lora);
    case 'bitrate':
      return model.overheadMs + ((payloadBytes + model.overheadBytes) * 8 * 1000) / model.bitrate;
    case 'none':
      return 0;
  }
}

/** Bytes altnet's framing adds around a frame on an E22 (sync, length, CRC-16). */
export const E22_FRAMING_BYTES = 5;
/** E22 default sub-packet (REG1): a longer UART write leaves as several packets. */
export const E22_SUBPACKET_BYTES = 240;
/**
 * Meshtastic on air: the 16-byte PacketHeader (firmware RadioInterface.h), then the encrypted
 * Data protobuf: portnum 256 (3 bytes), payload tag and length (2 or 3 bytes), and the bitfield
 * the firmware sets on packets it originates (2 bytes: Router.cpp, OK_TO_MQTT).
 */
export const MESHTASTIC_ON_AIR_OVERHEAD = 23;
export function meshtasticOnAirBytes(payloadBytes: number): number {
  return 16 + 3 + 1 + (payloadBytes < 128 ? 1 : 2) + payloadBytes + 2;
}

/**
 * The LoRa packets (payload sizes) a dialect puts on air for one frame of `frameBytes`:
 * RNode adds its 1-byte header and splits above 254 bytes (RNode_Firmware.ino transmit());
 * RAK3172 and RN2483 carry the same header (lora/onair.ts); the E22 carries altnet's 5-byte
 * framing in 240-byte sub-packets; Meshtastic its 16-byte header and the Data protobuf.
 */
export function onAirPackets(dialect: Dialect, frameBytes: number): number[] {
  switch (dialect) {
    case 'rnode-kiss':
      return frameBytes <= RNODE_SINGLE_PAYLOAD
        ? [frameBytes + RNODE_HEADER_BYTES]
        : [RNODE_SINGLE_PAYLOAD + RNODE_HEADER_BYTES, frameBytes - RNODE_SINGLE_PAYLOAD + RNODE_HEADER_BYTES];
    case 'rak3172-at':
    case 'rn2483':
      return [frameBytes + RNODE_HEADER_BYTES];
    case 'ebyte-transparent': {
      const out: number[] = [];
      for (let left = frameBytes + E22_FRAMING_BYTES; left > 0; left -= E22_SUBPACKET_BYTES) out.push(Math.min(left, E22_SUBPACKET_BYTES));
      return out;
    }
    case 'meshtastic-serial':
      return [meshtasticOnAirBytes(frameBytes)];
    default:
      return [frameBytes];
  }
}

/** The LoRa parameters a dialect's radio really uses: RNode fixes its preamble, RNode/RAK their LDRO. */
export function dialectLoraParams(dialect: Dialect, p: LoraAirtimeParams): LoraAirtimeParams {
  const q = { ...p };
  if (dialect === 'rnode-kiss') q.preambleSymbols = rnodePreambleSymbols(p.sf, p.bandwidthHz, p.codingRate);
  if (dialect === 'rnode-kiss' || dialect === 'rak3172-at') q.lowDataRateOptimize = lowDataRateFor(dialect, p.sf, p.bandwidthHz);
  return q;
}

/** Airtime of one altnet frame of `frameBytes` on a dialect, every on-air packet and overhead included. */
export function frameAirtimeMs(dialect: Dialect, model: AirtimeModel, lora: LoraAirtimeParams | undefined, frameBytes: number): number {
  if (model.model !== 'lora') return airtimeMs(model, lora, frameBytes);
  if (!lora) throw new RangeError('LoRa airtime needs LoRa parameters');
  const p = dialectLoraParams(dialect, lora);
  return onAirPackets(dialect, frameBytes).reduce((sum, n) => sum + loraAirtimeMs(n, p), 0);
}

export function loraParamsFrom(d: LoraDefaults, over: Partial<LoraAirtimeParams> = {}): LoraAirtimeParams {
  return {
    sf: over.sf ?? d.sf,
    bandwidthHz: over.bandwidthHz ?? d.bandwidthHz,
    codingRate: over.codingRate ?? d.codingRate,
    preambleSymbols: over.preambleSymbols ?? d.preambleSymbols,
    explicitHeader: over.explicitHeader ?? d.explicitHeader,
    crc: over.crc ?? d.crc,
    lowDataRateOptimize: over.lowDataRateOptimize ?? d.lowDataRateOptimize,
  };
}
