// Catch-up over a one-way radio on a virtual clock (issue 17): the real beacon and receiver code
// paths (Router carousel -> FramedLink codec -> SimTransport with its duty-cycle limiter -> SimAir
// -> SimTransport -> FramedLink -> HeaderChain) run in one process on a ManualClock, so hours of
// SF12 air at 1% take seconds. Used by `npm run bench -- catchup` and test/links/catchup.test.ts.
// Also the physical bound a catch-up is measured against: the airtime the coded headers need at
// the link's bit rate with the modem's fixed overhead per frame, divided by the duty cycle.
import { readFileSync } from 'node:fs';
import { HeaderChain } from '../../src/chain/chain.js';
import { NETWORKS, type NetworkParams } from '../../src/chain/networks.js';
import { headerHash } from '../../src/chain/header.js';
import { Router } from '../../src/gateway/router.js';
import { FramedLink } from '../../src/links/framed.js';
import type { HeaderBatch, LinkContext, LinkDirection } from '../../src/links/link.js';
import { SimAir, seededRandom } from '../../src/links/sim/air.js';
import { EU868_MAX_PAYLOAD, SimTransport } from '../../src/links/sim/transport.js';
import { airtimeMs, loraAirtimeMs, type LoraAirtimeParams } from '../../src/links/radio/airtime.js';
import { AX25_HEADER_BYTES, AX25_MAX_INFO } from '../../src/links/kiss/ax25.js';
import { bitsRuleFor, encodeHeaderStream, encodeTip } from '../../src/codec/headers.js';
import { Fragmenter } from '../../src/codec/fragment.js';
import { FrameType } from '../../src/codec/frames.js';
import { DEFAULT_INTEGRITY } from '../../src/links/framed-options.js';
import { ManualClock } from '../../src/util/clock.js';
import { Counters } from '../../src/util/counters.js';
import { createLogger, silentLogger } from '../../src/util/log.js';
import type { AirtimeModel } from '../../src/links/boards.js';
import { REPO_ROOT, SHARED_DATA } from './data.js';
import { resolve } from 'node:path';

/** A modem on the simulated air: its airtime per frame, bit rate, MTU and the link bytes around each frame. */
export interface AirProfile {
  name: string;
  dutyCycle: number;
  mtu: number;
  bitrate: number;
  airtimeOf(frameBytes: number): number;
  /** Bytes the modem adds around each frame on air beyond altnet's frame (AX.25 addresses, FCS, flags). */
  linkBytesPerFrame: number;
  /** Fixed time per key-up beyond the bytes (AFSK: TXDELAY + TXTAIL), ms; 0 where the airtime model has none. */
  keyUpMs: number;
  lora: LoraAirtimeParams;
}

export function loraProfile(sf: number, dutyCycle: number): AirProfile {
  const lora: LoraAirtimeParams = {
    sf,
    bandwidthHz: 125_000,
    codingRate: 5,
    preambleSymbols: 8,
    explicitHeader: true,
    crc: true,
    lowDataRateOptimize: 'auto',
  };
  return {
    name: `lora-sf${sf}-${dutyCycle * 100}pct`,
    dutyCycle,
    mtu: EU868_MAX_PAYLOAD[sf],
    bitrate: Math.round(((sf * 125_000) / 2 ** sf) * (4 / 5)),
    airtimeOf: (n) => loraAirtimeMs(n, lora),
    linkBytesPerFrame: 0,
    keyUpMs: 0,
    lora,
  };
}

/**
 * AFSK 1200 as Dire Wolf sends it (boards/direwolf.json): 1200 bit/s over the AX.25 frame (16
 * bytes of addresses, control and PID before altnet's frame) plus 6 bytes of FCS, flag and bit
 * stuffing, plus 310 ms of TXDELAY and TXtail; no duty cycle (amateur rules).
 */
export function afskProfile(): AirProfile {
  const board = JSON.parse(readFileSync(resolve(REPO_ROOT, 'boards', 'direwolf.json'), 'utf8')) as {
    radio: { airtime: AirtimeModel };
  };
  const model = board.radio.airtime;
  if (model.model !== 'bitrate') throw new Error('direwolf board: expected a bit-rate airtime model');
  return {
    name: 'afsk1200',
    dutyCycle: 1,
    mtu: AX25_MAX_INFO,
    bitrate: model.bitrate,
    airtimeOf: (n) => airtimeMs(model, undefined, n + AX25_HEADER_BYTES),
    linkBytesPerFrame: AX25_HEADER_BYTES + model.overheadBytes,
    keyUpMs: model.overheadMs,
    lora: loraProfile(12, 1).lora, // unused: airtimeOf decides
  };
}

const RECENT = new Uint8Array(readFileSync(SHARED_DATA.recentHeaders));
const FIRST = SHARED_DATA.recentFirstHeight;
export const recentHeader = (h: number): Uint8Array => RECENT.subarray((h - FIRST) * 80, (h - FIRST) * 80 + 80);
const recentRange = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => recentHeader(a + i));

/** The physical bound of carrying `n` headers after `parentHeight`: coded stream at full frames, no altnet framing. */
export function catchUpBound(
  p: AirProfile,
  parentHeight: number,
  n: number,
): { codedBytes: number; frames: number; airtimeMs: number; boundMs: number } {
  return streamBound(p, recentRange(parentHeight + 1, parentHeight + n), recentHeader(parentHeight), parentHeight, NETWORKS.main);
}

/**
 * The physical bound of carrying `headers` (after `parent` at `parentHeight`) over a modem: the
 * stream codec's bytes in full MTU frames with no altnet framing, each frame's airtime with the
 * modem's fixed overhead (LoRa preamble and header; AFSK key-up and AX.25), divided by the duty cycle.
 */
export function streamBound(
  p: AirProfile,
  headers: Uint8Array[],
  parent: Uint8Array,
  parentHeight: number,
  network: NetworkParams,
): { codedBytes: number; frames: number; airtimeMs: number; boundMs: number } {
  const stream = encodeHeaderStream(headers, { parent, parentHeight, bitsRule: bitsRuleFor(network) });
  const frames = Math.ceil(stream.length / p.mtu);
  let airtime = 0;
  for (let left = stream.length; left > 0; left -= p.mtu) airtime += p.airtimeOf(Math.min(left, p.mtu));
  return { codedBytes: stream.length, frames, airtimeMs: airtime, boundMs: airtime / p.dutyCycle };
}

/**
 * The physical bound of catching up `n` headers after `parentHeight` while a block comes every
 * `blockEveryMs` and a share `loss` of the frames is lost: every new block costs its tip frame
 * once (airtime no receiver behind can use), and every header a receiver lacks, old or new, needs
 * its coded bytes (in full frames, as catchUpBound) heard, so sent 1 / (1 - loss) times. The
 * receiver is done at the time t when the duty cycle's airtime d*t covers both:
 *   d*t = (t / blockEvery) * tip + (n + t / blockEvery) * perHeader / (1 - loss),
 * so t = n * perHeader / (1 - loss) / (d - (tip + perHeader / (1 - loss)) / blockEvery). Infinite
 * when the blocks alone take the whole budget.
 */
export function lossyMovingBound(
  p: AirProfile,
  parentHeight: number,
  n: number,
  o: { blockEveryMs: number; loss: number },
): { boundMs: number; tipAirtimeMs: number; perHeaderAirtimeMs: number } {
  const still = catchUpBound(p, parentHeight, n);
  const perHeader = still.airtimeMs / n;
  const tipBody = encodeTip({ header: recentHeader(parentHeight + 1), height: parentHeight + 1, parent: recentHeader(parentHeight) });
  const tipFrame = new Fragmenter({ mtu: p.mtu, integrity: DEFAULT_INTEGRITY }).fragment(FrameType.TIP, tipBody)[0];
  const tipAirtimeMs = p.airtimeOf(tipFrame.length);
  const heard = 1 - o.loss;
  const spare = p.dutyCycle - (tipAirtimeMs + perHeader / heard) / o.blockEveryMs;
  return { boundMs: spare > 0 ? (n * perHeader) / heard / spare : Infinity, tipAirtimeMs, perHeaderAirtimeMs: perHeader };
}

export interface CatchUpOptions {
  profile: AirProfile;
  /** Headers the receiver lacks (default 144). */
  behind?: number;
  loss?: number;
  seed?: number;
  /** Give up after this much virtual time, ms (default 3 days). */
  limitMs?: number;
  /** Announce one new block this long after the start (virtual ms); its arrival time is reported. */
  newTipAtMs?: number;
  /** The beacon's tip height (default recentFirstHeight + 1000): batches are aligned, so the tip matters. */
  tip?: number;
  /**
   * A new block reaches the beacon this often (virtual ms; the real next headers), as on mainnet
   * while a slow link catches up; then caught up means the receiver reached the beacon's tip.
   */
  blockEveryMs?: number;
  /** Debug lines of the beacon's router and both links, stamped with virtual time (instrumentation). */
  trace?: (line: string) => void;
}

export interface CatchUpResult {
  caughtUp: boolean;
  /** Virtual time until the receiver had every header, ms. */
  catchUpMs: number;
  /** When the new tip (newTipAtMs) was decoded into a header by the receiver, ms after it was announced (needs its parent). */
  newTipDelayMs?: number;
  /** When the receiver first heard the new tip's announcement (its height, resolved or not), ms after it was announced. */
  newTipHeardMs?: number;
  air: SimAir['stats'];
  beacon: Record<string, number>;
  receiver: Record<string, number>;
  /** Headers the receiver still lacked at the end (0 when it caught up). */
  behindAtEnd: number;
  /** Blocks added by blockEveryMs before the receiver reached the beacon's tip. */
  blocksAdded: number;
  /** Headers carried in beacon batches and the bytes their frames took (altnet frames only). */
  batchHeaders: number;
  batchFrames: number;
  batchBytes: number;
  wallMs: number;
}

/** Runs a beacon and a receiver `behind` headers behind on the simulated air until it catches up. */
export async function runCatchUp(o: CatchUpOptions): Promise<CatchUpResult> {
  const wall = performance.now();
  const p = o.profile;
  const behind = o.behind ?? 144;
  const tip = o.tip ?? FIRST + 1000;
  const clock = new ManualClock(1_700_000_000_000);
  const start = clock.nowMs();
  const air = new SimAir({
    loss: o.loss ?? 0,
    lora: p.lora,
    airtimeOf: p.airtimeOf,
    maxFrameBytes: p.mtu,
    clock,
    random: seededRandom(o.seed ?? 1),
  });
  const log = o.trace ? createLogger({ level: 'debug', write: o.trace, now: () => new Date(clock.nowMs() - start) }) : silentLogger();
  const chainOf = (top: number) => {
    const c = new HeaderChain({ network: NETWORKS.main, log, counters: new Counters(), nowSeconds: () => 1_800_000_000 });
    const r = c.addHeaders(recentRange(FIRST, top));
    if (r.accepted !== top - FIRST + 1) throw new Error(`harness chain took ${r.accepted} headers`);
    return c;
  };
  const beaconChain = chainOf(tip);
  const receiverChain = chainOf(tip - behind);
  const router = new Router({
    chain: beaconChain,
    log,
    counters: new Counters(),
    mode: 'beacon',
    nodePeers: () => [],
    now: () => clock.nowMs(),
  });

  const transport = (name: string, direction: LinkDirection, counters: Counters) =>
    new SimTransport(
      {
        name,
        air: { host: 'in-process', port: 0 },
        lora: p.lora,
        direction,
        dutyCycle: p.dutyCycle,
        mtu: p.mtu,
        airtimeOf: p.airtimeOf,
        bitrate: p.bitrate,
        openChannel: async () => air.connect(),
      },
      { log, counters, clock },
    );
  const ctxOf = (counters: Counters, events: Partial<LinkContext['events']>): LinkContext => ({
    log,
    counters,
    network: NETWORKS.main,
    events: { headers: () => {}, tx: () => {}, state: () => {}, ...events },
  });

  const beaconCounters = new Counters();
  let batchHeaders = 0;
  const beacon = new FramedLink(
    'radio',
    transport('radio', 'tx', beaconCounters),
    ctxOf(beaconCounters, { beaconWanted: (max) => router.beaconNext('radio', max) }),
    { clock },
  );
  router.addLink({
    name: 'radio',
    capabilities: beacon.capabilities,
    sendHeaders: (b: HeaderBatch) => {
      if (b.headers.length > 1) batchHeaders += b.headers.length;
      void beacon.sendHeaders(b);
    },
  });

  const receiverCounters = new Counters();
  let target = tip;
  let newTipAt: number | undefined;
  let newTipDelayMs: number | undefined;
  let newTipHeardMs: number | undefined;
  const newTip = tip + 1;
  const receiver = new FramedLink(
    'radio',
    transport('radio', 'rx', receiverCounters),
    ctxOf(receiverCounters, {
      tip: (report) => {
        if (newTipAt !== undefined && newTipHeardMs === undefined && report.height === newTip) newTipHeardMs = clock.nowMs() - newTipAt;
      },
      headers: (raw) => {
        receiverChain.addHeaders(raw);
        o.trace?.(
          `${new Date(clock.nowMs() - start).toISOString()} RX headers ${raw.length} receiver tip ${receiverChain.tip().height} target ${target}`,
        );
        if (
          newTipAt !== undefined &&
          newTipDelayMs === undefined &&
          raw.some((h) => headerHash(h).every((b, i) => b === headerHash(recentHeader(newTip))[i]))
        )
          newTipDelayMs = clock.nowMs() - newTipAt;
      },
    }),
    { clock },
  );
  receiver.setContext(tip - behind - 63, recentRange(tip - behind - 63, tip - behind));

  const settle = async () => {
    for (let i = 0; i < 4; i++) await new Promise((r) => setImmediate(r));
  };
  const starting = Promise.all([receiver.start(), beacon.start()]);
  await settle();
  await starting;
  const limit = start + (o.limitMs ?? 3 * 86_400_000);
  let blocksAdded = 0;
  const nextBlockAt = () => start + (blocksAdded + 1) * o.blockEveryMs!;
  const reached = () => receiverChain.tip().height >= target;
  const done = () => reached() && (o.newTipAtMs === undefined || newTipDelayMs !== undefined);
  let caughtUpAt: number | undefined;
  while (!done() && clock.nowMs() < limit) {
    if (o.newTipAtMs !== undefined && newTipAt === undefined && clock.nowMs() - start >= o.newTipAtMs) {
      newTipAt = clock.nowMs();
      router.onLinkHeaders('source', [recentHeader(newTip)]);
    }
    if (o.blockEveryMs !== undefined && !reached() && clock.nowMs() >= nextBlockAt()) {
      blocksAdded++;
      target = tip + blocksAdded;
      router.onLinkHeaders('source', [recentHeader(target)]);
      await settle();
    }
    if (caughtUpAt === undefined && reached()) caughtUpAt = clock.nowMs();
    const next = clock.nextTimerAt();
    if (next === undefined) break;
    let to = Math.min(next, limit);
    if (o.newTipAtMs !== undefined && newTipAt === undefined) to = Math.min(to, start + o.newTipAtMs);
    if (o.blockEveryMs !== undefined && !reached()) to = Math.min(to, nextBlockAt());
    clock.advance(Math.max(0, to - clock.nowMs()));
    await settle();
  }
  if (caughtUpAt === undefined && reached()) caughtUpAt = clock.nowMs();
  await beacon.stop();
  await receiver.stop();
  await air.close();
  return {
    caughtUp: caughtUpAt !== undefined,
    catchUpMs: (caughtUpAt ?? clock.nowMs()) - start,
    newTipDelayMs,
    newTipHeardMs,
    air: { ...air.stats },
    beacon: beaconCounters.snapshot(),
    receiver: receiverCounters.snapshot(),
    behindAtEnd: Math.max(0, target - receiverChain.tip().height),
    blocksAdded,
    batchHeaders,
    batchFrames: beaconCounters.get('batch_frames_tx'),
    batchBytes: beaconCounters.get('batch_bytes_tx'),
    wallMs: performance.now() - wall,
  };
}
