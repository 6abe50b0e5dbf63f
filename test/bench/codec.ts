// Header codec, tip frame, FEC recovery and decoder fuzzing figures (DESIGN.md section 4).
import { readFileSync } from 'node:fs';
import { headerHash } from '../../src/chain/header.js';
import { encodeFrame, encodeHeadersBody, FrameType, type Integrity } from '../../src/codec/frames.js';
import { MessageEncoder, Reassembler } from '../../src/codec/fragment.js';
import { decodeHeaderStream, decodeTip, encodeHeaderStream, encodeTip, resolveTip } from '../../src/codec/headers.js';
import { SHARED_DATA } from '../harness/data.js';
import { fuzz, fuzzTargets } from '../codec/fuzz.js';
import { Prng } from '../codec/prng.js';

function perSecond(n: number, ms: number): number {
  return Math.round((n / ms) * 1000);
}

export async function bench(): Promise<Record<string, unknown>> {
  const file = new Uint8Array(readFileSync(SHARED_DATA.recentHeaders));
  const headers: Uint8Array[] = [];
  for (let o = 0; o < file.length; o += 80) headers.push(file.subarray(o, o + 80));
  const n = headers.length - 1;
  const ctx = { parent: headers[0], parentHeight: SHARED_DATA.recentFirstHeight };

  // Stream mode over the whole file.
  let encoded = encodeHeaderStream(headers.slice(1), ctx);
  const reps = 3;
  let t0 = performance.now();
  for (let r = 0; r < reps; r++) encoded = encodeHeaderStream(headers.slice(1), ctx);
  const encMs = performance.now() - t0;
  t0 = performance.now();
  let decoded: Uint8Array[] = [];
  for (let r = 0; r < reps; r++) decoded = decodeHeaderStream(encoded, ctx);
  const decMs = performance.now() - t0;
  const roundTrip = decoded.every((h, i) => Buffer.compare(h, headers[i + 1]) === 0);

  // Standalone tip frames: CRC-16 (LoRa budget) and CRC-32 with a sequence byte (worst framing).
  let tipSum = 0;
  let tipMax = 0;
  let tipMax32 = 0;
  let tipOk = true;
  for (let i = 1; i < headers.length; i++) {
    const body = encodeTip({ header: headers[i], height: ctx.parentHeight + i, parent: headers[i - 1] });
    const f16 = encodeFrame(FrameType.TIP, body, { integrity: 'crc16' });
    const f32 = encodeFrame(FrameType.TIP, body, { integrity: 'crc32', seq: 0 });
    tipSum += f16.length;
    tipMax = Math.max(tipMax, f16.length);
    tipMax32 = Math.max(tipMax32, f32.length);
    if (Buffer.compare(resolveTip(decodeTip(body), headers[i - 1]), headers[i]) !== 0) tipOk = false;
  }

  // One-way FEC: a 2016-header batch, fragments sent until the receiver has the message.
  const batch = headers.slice(1, 2017);
  const body = encodeHeadersBody({
    parentHeight: ctx.parentHeight,
    parentPrefix: headerHash(headers[0]),
    stream: encodeHeaderStream(batch, ctx),
  });
  const fec: Record<string, unknown>[] = [];
  for (const link of [
    { name: 'LoRa SF12 EU868', mtu: 51, integrity: 'crc16' as Integrity, trials: 3 },
    { name: 'AX.25 / KISS', mtu: 255, integrity: 'crc32' as Integrity, trials: 8 },
  ]) {
    const enc = new MessageEncoder(1, FrameType.HEADERS, body, { mtu: link.mtu, integrity: link.integrity });
    for (const loss of [0.1, 0.3, 0.5]) {
      const rng = new Prng(Math.round(loss * 1000) + link.mtu);
      const ratios: number[] = [];
      let decodeMs = 0;
      for (let t = 0; t < link.trials; t++) {
        const rx = new Reassembler({ integrity: link.integrity, maxK: 4096 });
        let sent = 0;
        let done = false;
        for (let index = 0; !done && index < 16384; index++) {
          sent++;
          if (rng.chance(loss)) continue;
          const frame = enc.frame(index);
          const t1 = performance.now();
          const out = rx.receive(frame, 'beacon', 0);
          decodeMs += performance.now() - t1;
          if (out.messages.length) {
            if (Buffer.compare(out.messages[0].payload, body) !== 0) throw new Error('FEC bench: wrong payload recovered');
            done = true;
          }
        }
        if (!done) throw new Error('FEC bench: batch not recovered');
        ratios.push(sent / enc.k);
      }
      fec.push({
        link: link.name,
        mtu: link.mtu,
        batchBytes: body.length,
        k: enc.k,
        symbolBytes: enc.symbolSize,
        loss,
        lossFreeFragments: enc.k,
        meanSentRatio: +(ratios.reduce((a, b) => a + b, 0) / ratios.length).toFixed(4),
        maxSentRatio: +Math.max(...ratios).toFixed(4),
        idealRatio: +(1 / (1 - loss)).toFixed(4),
        trials: link.trials,
        receiverCpuMsPerBatch: +(decodeMs / link.trials).toFixed(1),
      });
    }
  }

  // Fuzz: at least a million random and mutated inputs per decoder.
  const fuzzRuns = Number(process.env.ALTNET_CODEC_FUZZ_RUNS ?? 1_000_000);
  const fuzzResults: Record<string, unknown> = {};
  let crashes = 0;
  for (const target of fuzzTargets()) {
    const t1 = performance.now();
    const r = fuzz(target, fuzzRuns, 12345);
    crashes += r.crashes;
    fuzzResults[target.name] = { ...r, seconds: +((performance.now() - t1) / 1000).toFixed(1) };
  }

  return {
    headers: n,
    stream: {
      bytesPerHeader: +(encoded.length / n).toFixed(3),
      targetBytesPerHeader: 39.5,
      roundTrip,
      encodeHeadersPerSec: perSecond(n * reps, encMs),
      decodeHeadersPerSec: perSecond(n * reps, decMs),
    },
    tipFrame: {
      crc16MeanBytes: +(tipSum / n).toFixed(3),
      crc16MaxBytes: tipMax,
      crc32WithSequenceMaxBytes: tipMax32,
      targetBytes: 51,
      roundTrip: tipOk,
    },
    fec2016Headers: fec,
    fuzz: { runsPerDecoder: fuzzRuns, crashes, decoders: fuzzResults },
  };
}
