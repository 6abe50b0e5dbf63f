import { describe, expect, it } from 'vitest';
import {
  loraAirtimeMs,
  loraLowDataRate,
  loraMaxPayloadForDwell,
  loraParams,
  type LoraAirtimeParams,
} from '../../../src/links/radio/airtime.js';
import { regionRule } from '../../../src/links/radio/regions.js';

const base: LoraAirtimeParams = {
  sf: 7,
  bandwidthHz: 125_000,
  codingRate: 5,
  preambleSymbols: 8,
  explicitHeader: true,
  crc: true,
  lowDataRateOptimize: 'auto',
};

describe('LoRa airtime (Semtech formula)', () => {
  it('matches worked values for 125 kHz, CR 4/5, 8-symbol preamble', () => {
    // Reference values from the formula in the SX1276 datasheet section 4.1.1.7, by hand:
    // SF7 51 B: 8 + ceil((408-28+28+16)/28)*5 = 8+16*5 = 88 symbols + 12.25 preamble, Tsym 1.024 ms.
    expect(loraAirtimeMs(51, base)).toBeCloseTo((88 + 12.25) * 1.024, 6);
    // SF12 51 B with low-data-rate optimisation: 8 + ceil(404/40)*5 = 63 symbols, Tsym 32.768 ms.
    expect(loraAirtimeMs(51, { ...base, sf: 12 })).toBeCloseTo((63 + 12.25) * 32.768, 6);
    expect(loraAirtimeMs(51, { ...base, sf: 12 })).toBeCloseTo(2465.792, 3);
    // SF9 51 B: 8 + ceil((408-36+44)/36)*5 = 8+12*5 = 68 symbols, Tsym 4.096 ms.
    expect(loraAirtimeMs(51, { ...base, sf: 9 })).toBeCloseTo((68 + 12.25) * 4.096, 6);
  });

  it('loraParams is the plain link setting these values are for (the sim air and the demo use it)', () => {
    expect(loraParams(7)).toEqual(base);
    expect(loraParams(12, 250_000, 8)).toEqual({ ...base, sf: 12, bandwidthHz: 250_000, codingRate: 8 });
    expect(loraAirtimeMs(51, loraParams(12))).toBeCloseTo(2465.792, 3);
  });

  it('applies the header, CRC, coding rate and LDRO terms', () => {
    expect(loraLowDataRate({ sf: 11, bandwidthHz: 125_000, lowDataRateOptimize: 'auto' })).toBe(true);
    expect(loraLowDataRate({ sf: 10, bandwidthHz: 125_000, lowDataRateOptimize: 'auto' })).toBe(false);
    expect(loraAirtimeMs(20, { ...base, explicitHeader: false })).toBeLessThan(loraAirtimeMs(20, base));
    expect(loraAirtimeMs(20, { ...base, crc: false })).toBeLessThanOrEqual(loraAirtimeMs(20, base));
    expect(loraAirtimeMs(20, { ...base, codingRate: 8 })).toBeGreaterThan(loraAirtimeMs(20, base));
    expect(() => loraAirtimeMs(256, base)).toThrow(RangeError);
  });

  it('finds the largest payload within the US915 dwell time', () => {
    const n = loraMaxPayloadForDwell(400, { ...base, sf: 10 });
    expect(loraAirtimeMs(n, { ...base, sf: 10 })).toBeLessThanOrEqual(400);
    expect(loraAirtimeMs(n + 1, { ...base, sf: 10 })).toBeGreaterThan(400);
    expect(loraMaxPayloadForDwell(400, { ...base, sf: 12 })).toBe(0);
  });

  it('knows the EU868 sub-bands', () => {
    expect(regionRule('EU868', 868_100_000).dutyCycle).toBe(0.01);
    expect(regionRule('EU868', 869_525_000).dutyCycle).toBe(0.1);
    expect(regionRule('EU868', 868_800_000).dutyCycle).toBe(0.001);
    expect(regionRule('EU868', 869_300_000).dutyCycle).toBe(0.001); // between bands: strictest
    expect(regionRule('US915', 915_000_000).maxDwellMs).toBe(400);
  });
});
