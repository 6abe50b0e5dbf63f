// Radio airtime figures (DESIGN.md section 4): how long a new-header frame occupies a LoRa
// channel at SF7/SF9/SF12 (125 kHz, CR 4/5, EU868 868.1 MHz: 1% sub-band), and how many fit in
// an hour of duty cycle, computed and also counted through the real limiter.
import { readFileSync } from 'node:fs';
import { findBoardProfile } from '../../src/links/boards.js';
import { airtimeMs, frameAirtimeMs, loraAirtimeMs, loraParams } from '../../src/links/radio/airtime.js';
import { rnodePreambleSymbols } from '../../src/links/lora/onair.js';
import { ManualClock } from '../../src/util/clock.js';
import { DutyCycleLimiter } from '../../src/links/radio/dutycycle.js';
import { regionRule } from '../../src/links/radio/regions.js';
import { SHARED_DATA } from '../harness/data.js';

const HOUR = 3_600_000;

/** The codec's real standalone tip frame (CRC-16, the LoRa framing), largest over the shared data. */
async function realTipFrameBytes(): Promise<{ maxBytes: number; meanBytes: number; headers: number } | { error: string }> {
  try {
    const frames = await import('../../src/codec/frames.js');
    const codec = await import('../../src/codec/headers.js');
    const file = new Uint8Array(readFileSync(SHARED_DATA.recentHeaders));
    let max = 0;
    let sum = 0;
    let n = 0;
    for (let o = 80; o + 80 <= file.length; o += 80) {
      const body = codec.encodeTip({
        header: file.subarray(o, o + 80),
        height: SHARED_DATA.recentFirstHeight + o / 80,
        parent: file.subarray(o - 80, o),
      });
      const f = frames.encodeFrame(frames.FrameType.TIP, body, { integrity: 'crc16' });
      max = Math.max(max, f.length);
      sum += f.length;
      n++;
    }
    return { maxBytes: max, meanBytes: +(sum / n).toFixed(2), headers: n };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/** Frames the limiter admits in one hour when offered back to back. */
function admittedPerHour(dutyCycle: number, airtime: number): number {
  const clock = new ManualClock(0);
  const lim = new DutyCycleLimiter({ dutyCycle, clock });
  let sent = 0;
  while (clock.nowMs() < HOUR) {
    const adm = lim.admit(airtime);
    if (!adm.ok) {
      clock.advance(adm.waitMs);
      continue;
    }
    if (clock.nowMs() + airtime > HOUR) break;
    lim.record(airtime);
    sent++;
    clock.advance(Math.ceil(airtime));
  }
  return sent;
}

export async function bench(): Promise<Record<string, unknown>> {
  const rule = regionRule('EU868', 868_100_000);
  const budgetMs = rule.dutyCycle * HOUR;
  const tip = await realTipFrameBytes();
  const sizes: Record<string, number> = { assumed51: 51 };
  if ('maxBytes' in tip) {
    sizes.codecTipFrameMax = tip.maxBytes;
    sizes.codecTipFrameMean = Math.ceil(tip.meanBytes);
  }
  const lora: Record<string, unknown> = {};
  for (const sf of [7, 9, 12]) {
    const p = loraParams(sf);
    const row: Record<string, unknown> = {};
    for (const [name, bytes] of Object.entries(sizes)) {
      // What an RNode (or a RAK3172/RN2483 on the region profile) really sends: the 1-byte header
      // and the firmware's preamble; the 8-symbol textbook figure beside it for comparison.
      const ms = frameAirtimeMs('rnode-kiss', { model: 'lora' }, p, bytes);
      row[name] = {
        payloadBytes: bytes,
        onAirBytes: bytes + 1,
        preambleSymbols: rnodePreambleSymbols(sf, 125_000, 5),
        airtimeMs: +ms.toFixed(1),
        textbookAirtimeMs: +loraAirtimeMs(bytes, p).toFixed(1),
        perHourAt1pct: Math.floor(budgetMs / ms),
        perHourAt1pctThroughLimiter: admittedPerHour(rule.dutyCycle, ms),
      };
    }
    lora[`SF${sf}`] = row;
  }
  const kiss = findBoardProfile('kiss-tnc');
  const afskMs = airtimeMs(kiss.radio.airtime, undefined, 51 + 16);
  return {
    region: { name: 'EU868', frequencyHz: 868_100_000, subBand: rule.subBand, dutyCycle: rule.dutyCycle, windowMs: rule.windowMs },
    params:
      "125 kHz, CR 4/5, RNode's preamble and 1-byte header (frameAirtimeMs 'rnode-kiss'), explicit header, CRC on; textbook: 8-symbol preamble, no header",
    codecTipFrame: tip,
    lora,
    afsk1200: { payloadBytes: 51, ax25Bytes: 51 + 16, airtimeMsIncludingTxDelay: +afskMs.toFixed(1), model: kiss.radio.airtime },
  };
}
