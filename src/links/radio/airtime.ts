// LoRa time on air from the Semtech formula (SX1272/SX1276 datasheets, AN1200.13 "LoRa Modem
// Designer's Guide"). Pure: parameters in, milliseconds out. Used by the duty-cycle limiter
// before every transmission and by the bench.
import type { AirtimeModel, LoraDefaults } from '../boards.js';

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

/** Raw LoRa bit rate, bits/s: SF * BW / 2^SF * 4/CR. */
export function loraBitrate(p: Pick<LoraAirtimeParams, 'sf' | 'bandwidthHz' | 'codingRate'>): number {
  return (p.sf * p.bandwidthHz / 2 ** p.sf) * (4 / p.codingRate);
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
