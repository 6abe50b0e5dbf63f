// Regional airtime rules. EU868: ETSI EN 300 220 / ERC Rec 70-03 annex 1 sub-bands, each with its
// own duty cycle, measured over one hour. US915: FCC 47 CFR 15.247(a)(1)(i): a frequency-hopping
// system below 250 kHz bandwidth may occupy any one channel for at most 0.4 s within a 20 s
// period, so a radio on a fixed channel gets 400 ms in every rolling 20 s (2%), and no single
// transmission may exceed 400 ms. EU433: 433.05-434.79 MHz, 10%.
import type { RegionName } from '../boards.js';

export interface SubBand {
  name: string;
  fromHz: number;
  /** Exclusive upper edge. */
  toHz: number;
  dutyCycle: number;
}

export const EU868_SUBBANDS: readonly SubBand[] = [
  { name: 'h1.3 863-865 MHz', fromHz: 863_000_000, toHz: 865_000_000, dutyCycle: 0.001 },
  { name: 'h1.4 865-868 MHz', fromHz: 865_000_000, toHz: 868_000_000, dutyCycle: 0.01 },
  { name: 'g1 868.0-868.6 MHz', fromHz: 868_000_000, toHz: 868_600_000, dutyCycle: 0.01 },
  { name: 'g2 868.7-869.2 MHz', fromHz: 868_700_000, toHz: 869_200_000, dutyCycle: 0.001 },
  { name: 'g3 869.4-869.65 MHz', fromHz: 869_400_000, toHz: 869_650_000, dutyCycle: 0.1 },
  { name: 'g4 869.7-870.0 MHz', fromHz: 869_700_000, toHz: 870_000_000, dutyCycle: 0.01 },
];

export interface RegionRule {
  region: RegionName;
  /** Legal share of airtime (1 = unrestricted). */
  dutyCycle: number;
  /** Rolling window the duty cycle is measured over. */
  windowMs: number;
  /** Longest single transmission, when the region limits it. */
  maxDwellMs?: number;
  subBand?: string;
}

export const HOUR_MS = 3_600_000;
/** FCC 15.247(a)(1)(i): 0.4 s of occupancy per channel in any 20 s. */
export const FCC_DWELL_WINDOW_MS = 20_000;
export const FCC_DWELL_MS = 400;

/**
 * The rule for a frequency in a region. Frequencies between EU868 sub-bands fall back to the
 * strictest (0.1%), so a typo cannot buy more airtime than the law allows.
 */
export function regionRule(region: RegionName, frequencyHz: number): RegionRule {
  switch (region) {
    case 'EU868': {
      const band = EU868_SUBBANDS.find((b) => frequencyHz >= b.fromHz && frequencyHz < b.toHz);
      return band
        ? { region, dutyCycle: band.dutyCycle, windowMs: HOUR_MS, subBand: band.name }
        : { region, dutyCycle: 0.001, windowMs: HOUR_MS, subBand: 'outside the EU868 sub-bands' };
    }
    case 'EU433':
      return { region, dutyCycle: 0.1, windowMs: HOUR_MS };
    case 'US915':
      // One channel (altnet's radios do not hop: a hopping sender needs receivers that follow
      // the same sequence, which single-channel modems cannot): 0.4 s per 20 s on it.
      return { region, dutyCycle: FCC_DWELL_MS / FCC_DWELL_WINDOW_MS, windowMs: FCC_DWELL_WINDOW_MS, maxDwellMs: FCC_DWELL_MS };
    case 'AU915':
      return { region, dutyCycle: 1, windowMs: HOUR_MS, maxDwellMs: 400 };
    case 'AS923':
    case 'KR920':
      return { region, dutyCycle: 0.01, windowMs: HOUR_MS, maxDwellMs: 400 };
    case 'IN865':
    case 'HAM':
      return { region, dutyCycle: 1, windowMs: HOUR_MS };
  }
}
