// What LoRa radios of different makes must agree on to hear each other, in one place: the
// on-air profile per region (frequency, SF, bandwidth, coding rate, sync word, preamble, CRC,
// explicit header, IQ) and the 1-byte RNode header. Pure data and functions; no I/O.
//
// The profile follows what the RNode firmware cannot change (markqvist/RNode_Firmware): sync word
// 0x12 (sx127x.cpp SYNC_WORD_7X; 0x1424 on SX126x, sx126x.cpp SYNC_WORD_6X), CRC on
// (startRadio: enableCrc), explicit header, normal IQ, and a preamble of
// max(18, ceil(24 ms / symbol time)) symbols (Utilities.h updateBitrate). Radios whose host
// protocol sets these (RAK3172 RUI3: AT+P2P preamble, AT+SYNCWORD, AT+IQINVER; RN2483: radio set
// prlen/sync/iqi/crc) are configured to the same values, and prefix the same 1-byte header
// (RNode_Firmware.ino transmit(): random sequence nibble, FLAG_SPLIT 0x01), so an RNode, a
// RAK3172 and an RN2483 on the same profile exchange frames. Meshtastic (its own preset, sync
// word 0x2B, 16-byte header, AES-CTR) and Ebyte E22 (undocumented on-air format) keep their
// firmware's settings and only hear their own kind.
import type { Dialect, RegionName } from '../boards.js';

export interface OnAirProfile {
  frequencyHz: number;
  sf: number;
  bandwidthHz: number;
  /** Coding rate denominator, 5 = 4/5. */
  codingRate: 5 | 6 | 7 | 8;
  /** SX127x one-byte form (SX126x register value: 0xX4Y4 for 0xXY). */
  syncWord: number;
  crc: boolean;
  explicitHeader: boolean;
  invertIq: boolean;
}

/**
 * One profile per region. EU868: 868.1 MHz (sub-band g1, 1% duty cycle), SF12/125 kHz (not
 * SF11/125: there RNode's low-data-rate rule, long(2048/125) = 16 "not > 16", differs from
 * Semtech's and LoRaMac-node's, which turn it on, and the radios would not decode each other).
 * US915: 915 MHz SF7/125 kHz, so a full frame fits the 400 ms dwell time. EU433: 433.775 MHz
 * SF12/125 kHz (10%).
 */
export const ON_AIR_PROFILES: Partial<Record<RegionName, OnAirProfile>> = {
  EU868: {
    frequencyHz: 868_100_000,
    sf: 12,
    bandwidthHz: 125_000,
    codingRate: 5,
    syncWord: 0x12,
    crc: true,
    explicitHeader: true,
    invertIq: false,
  },
  US915: {
    frequencyHz: 915_000_000,
    sf: 7,
    bandwidthHz: 125_000,
    codingRate: 5,
    syncWord: 0x12,
    crc: true,
    explicitHeader: true,
    invertIq: false,
  },
  EU433: {
    frequencyHz: 433_775_000,
    sf: 12,
    bandwidthHz: 125_000,
    codingRate: 5,
    syncWord: 0x12,
    crc: true,
    explicitHeader: true,
    invertIq: false,
  },
};

/** Dialects whose host protocol sets the radio, so they apply the region's on-air profile. */
export const PROFILE_DIALECTS: readonly Dialect[] = ['rnode-kiss', 'rak3172-at', 'rn2483'];

/** RNode's preamble: max(18, ceil(target / symbol time)), target 24 ms (6 ms above 30 kbit/s). */
export function rnodePreambleSymbols(sf: number, bandwidthHz: number, codingRate: number): number {
  const symMs = (2 ** sf / bandwidthHz) * 1000;
  const bitrate = sf * (4 / codingRate / (2 ** sf / (bandwidthHz / 1000))) * 1000;
  const target = bitrate > 30_000 ? 24 - 18 : 24; // LORA_FAST_THRESHOLD_BPS, LORA_PREAMBLE_FAST_DELTA
  const n = target / symMs;
  return n < 18 ? 18 : Math.ceil(n);
}

/** Low-data-rate optimisation as each dialect's radio decides it (none lets the host choose). */
export function lowDataRateFor(dialect: Dialect, sf: number, bandwidthHz: number): boolean {
  switch (dialect) {
    case 'rnode-kiss':
      // sx127x.cpp / sx126x.cpp handleLowDataRate: long((1<<sf) / (bw/1000)) > 16
      return Math.trunc(2 ** sf / (bandwidthHz / 1000)) > 16;
    case 'rak3172-at':
      // LoRaMac-node radio.c (RUI3's radio layer): SF11/SF12 at 125 kHz, SF12 at 250 kHz
      return (bandwidthHz === 125_000 && sf >= 11) || (bandwidthHz === 250_000 && sf === 12);
    default:
      // Semtech's recommendation: symbol time above 16 ms
      return (2 ** sf / bandwidthHz) * 1000 > 16;
  }
}

/** RNode on-air header: sequence number in the high nibble, FLAG_SPLIT in bit 0. */
export const RNODE_HEADER_BYTES = 1;
export const RNODE_FLAG_SPLIT = 0x01;
/** Largest frame that leaves as one packet (SINGLE_MTU 255 minus the header). */
export const RNODE_SINGLE_PAYLOAD = 254;

/** Prefixes the header (random sequence, no split: callers keep frames within 254 bytes). */
export function withRnodeHeader(frame: Uint8Array, random: () => number = Math.random): Uint8Array {
  if (frame.length > RNODE_SINGLE_PAYLOAD)
    throw new RangeError(`a single RNode packet carries at most ${RNODE_SINGLE_PAYLOAD} bytes, got ${frame.length}`);
  const out = new Uint8Array(frame.length + 1);
  out[0] = Math.floor(random() * 16) << 4;
  out.set(frame, 1);
  return out;
}

export type RnodeHeaderResult = { frame: Uint8Array } | { error: 'rnode-header-missing' | 'rnode-split-unsupported' };

/** Strips the header from a received packet; split packets (over 254 bytes) are not joined here. */
export function stripRnodeHeader(packet: Uint8Array): RnodeHeaderResult {
  if (packet.length < 2) return { error: 'rnode-header-missing' };
  if (packet[0] & RNODE_FLAG_SPLIT) return { error: 'rnode-split-unsupported' };
  return { frame: packet.subarray(1) };
}
