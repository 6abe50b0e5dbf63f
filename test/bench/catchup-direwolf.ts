// Catch-up over real AFSK 1200: a receive-only gateway 144 headers behind a beacon gateway, each
// on one of two Debian direwolf modems joined through audio (test/emulators/direwolf.ts):
//   node B (regtest, 144 blocks) -> beacon gateway -> KISS TCP -> direwolf 1 ~~AFSK 1200 audio~~
//   direwolf 2 -> KISS TCP -> receive-only gateway -> node A (genesis only).
// Measures the time from the beacon having the headers to the receiver having them all, beside the
// physical bound the simulated catch-up bench uses too (test/harness/catchup.ts streamBound): the
// 144 headers through the stream codec in full 256-byte frames with no altnet framing, each frame
// as Dire Wolf keys it up: TXDELAY 300 ms + TXTAIL 100 ms + the AX.25 frame at 1200 bit/s
// (boards/direwolf.json, the KISS transport's own airtime model). Whatever the beacon's batches
// cost beyond that (their size is the link's, FramedLink.beaconBatchHeaders) is in the ratio.
//
// `npm run bench -- catchup-direwolf` prints it; test/e2e/direwolf-catchup.test.ts runs this file
// in its own process (`node dist/test/bench/catchup-direwolf.js`, JSON report on stdout) and
// checks what happened. Its own process: the audio between the modems is paced in real time and
// must not share an event loop with a test runner (a test runner's
// load adds jitter to it).
import { NETWORKS } from '../../src/chain/networks.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/util/log.js';
import { fromHex } from '../../src/util/bytes.js';
import { BitcoindProcess } from '../harness/bitcoind.js';
import { afskProfile, streamBound } from '../harness/catchup.js';
import { direwolfMissing, startDirewolfPair, workdir, type AfskAirStats } from '../emulators/direwolf.js';

export interface DirewolfCatchupReport {
  behind: number;
  /** Beacon has the headers -> receiver gateway has them all, s. */
  seconds: number;
  /** Airtime of the frames carrying the coded headers, s (see the file comment). */
  boundSeconds: number;
  ratio: number;
  /**
   * The tighter bound when Dire Wolf bundles frames under one key-up (it does while its queue is
   * not empty): the same frames' bits at 1200 bit/s (AX.25 header, FCS/flag/stuffing allowance)
   * with no TXDELAY/TXTAIL at all, s; and the measured time over it.
   */
  bitsOnlySeconds: number;
  bitsOnlyRatio: number;
  /** Frames of the bound (full frames of the coded stream) and their air bytes (with AX.25 header, FCS and flags). */
  frames: { bound: number; boundBytes: number };
  /** Air bytes per header in the bound. */
  airBytesPerHeader: number;
  beaconTip: string;
  receiverTip: { height: number; hash: string };
  /** Node A has the beacon's tip as a header. */
  nodeHasTip: boolean;
  receiverFramesTx: number;
  receiverBatchesRx: number;
  beaconFramesTx: number;
  /** AX.25 frames from the beacon's callsign that direwolf 2 decoded (its monitor lines). */
  decodedByReceiverModem: number;
  air: AfskAirStats;
}

export async function direwolfCatchup(behind = 144, timeoutMs = 600_000): Promise<DirewolfCatchupReport> {
  const missing = direwolfMissing();
  if (missing) throw new Error(missing);
  const wd = workdir();
  const logs = { beacon: memoryLogger(), receiver: memoryLogger() };
  const nodeA = new BitcoindProcess({ name: 'A' });
  const nodeB = new BitcoindProcess({ name: 'B' });
  let pair: Awaited<ReturnType<typeof startDirewolfPair>> | undefined;
  let beacon: Gateway | undefined;
  let receiver: Gateway | undefined;
  try {
    await Promise.all([nodeA.start(), nodeB.start()]);
    await nodeB.mine(behind);
    pair = await startDirewolfPair(wd.dir);
    const [tx, rx] = pair.stations;
    const common = { network: NETWORKS.regtest, listen: { host: '127.0.0.1', port: 0 }, checkpoint: null } as const;
    beacon = await Gateway.start({
      ...common,
      mode: 'beacon',
      // No beaconinterval=: the link asks for the next batch when its last one has left (the
      // KISS transport hands frames to Dire Wolf at the pace of the modelled air).
      links: [
        { name: 'ham', type: 'kiss', options: { type: 'kiss', tcp: `127.0.0.1:${tx.kissPort}`, callsign: 'N0CALL-7', direction: 'tx' } },
      ],
      log: logs.beacon,
    });
    receiver = await Gateway.start({
      ...common,
      mode: 'receive-only',
      links: [{ name: 'ham', type: 'kiss', options: { type: 'kiss', tcp: `127.0.0.1:${rx.kissPort}`, direction: 'rx' } }],
      log: logs.receiver,
    });
    const diag = () =>
      `--- beacon ---\n${logs.beacon.lines.slice(-30).join('\n')}\n--- receiver ---\n${logs.receiver.lines.slice(-30).join('\n')}\n${pair!.diag()}`;
    await nodeA.rpc('addnode', `127.0.0.1:${receiver.nodePort}`, 'onetry');
    await nodeB.rpc('addnode', `127.0.0.1:${beacon.nodePort}`, 'onetry');
    const bTip = await nodeB.rpc<string>('getbestblockhash');
    await nodeB.waitFor(`the beacon has the headers, its link up\n${diag()}`, async () => {
      return beacon!.chain.tip().height === behind && beacon!.link('ham')?.state === 'up' && receiver!.link('ham')?.state === 'up';
    });
    if (receiver.chain.tip().height !== 0) throw new Error('the receiver is not behind');
    const started = performance.now();
    await nodeA.waitFor(
      `the receiver has the ${behind} headers\n${diag()}`,
      async () => receiver!.chain.tip().height === behind,
      timeoutMs,
    );
    const seconds = (performance.now() - started) / 1000;
    const nodeHasTip = await nodeA
      .waitFor(
        'node A has the tip',
        async () => (await nodeA.rpc<Array<{ hash: string; height: number }>>('getchaintips')).some((t) => t.hash === bTip),
        60_000,
      )
      .then(() => true)
      .catch(() => false);
    // Driver counters reach the gateway every 2 s.
    await nodeA
      .waitFor('driver counters', async () => (receiver!.status().links[0].counters.header_batches_rx ?? 0) > 0)
      .catch(() => undefined);

    const headers: Uint8Array[] = [];
    for (let h = 1; h <= behind; h++) {
      const hash = await nodeB.rpc<string>('getblockhash', h);
      headers.push(fromHex(await nodeB.rpc<string>('getblockheader', hash, false)));
    }
    const genesis = fromHex(await nodeB.rpc<string>('getblockheader', await nodeB.rpc<string>('getblockhash', 0), false));
    const profile = afskProfile();
    const bound = streamBound(profile, headers, genesis, 0, NETWORKS.regtest);
    const boundSeconds = bound.boundMs / 1000;
    const boundBytes = bound.codedBytes + bound.frames * profile.linkBytesPerFrame;
    const bitsOnlySeconds = (bound.airtimeMs - bound.frames * profile.keyUpMs) / 1000;
    const tipHash = receiver.chain.tip().hash;
    const rxCounters = receiver.status().links[0].counters;
    return {
      behind,
      seconds: Math.round(seconds * 10) / 10,
      boundSeconds: Math.round(boundSeconds * 10) / 10,
      ratio: Math.round((seconds / boundSeconds) * 100) / 100,
      bitsOnlySeconds: Math.round(bitsOnlySeconds * 10) / 10,
      bitsOnlyRatio: Math.round((seconds / bitsOnlySeconds) * 100) / 100,
      frames: { bound: bound.frames, boundBytes },
      airBytesPerHeader: Math.round((boundBytes / behind) * 10) / 10,
      beaconTip: bTip,
      receiverTip: { height: receiver.chain.tip().height, hash: Buffer.from(tipHash).reverse().toString('hex') },
      nodeHasTip,
      receiverFramesTx: rxCounters.frames_tx ?? 0,
      receiverBatchesRx: rxCounters.header_batches_rx ?? 0,
      beaconFramesTx: beacon.status().links[0].counters.frames_tx ?? 0,
      decodedByReceiverModem: (pair.stations[1].output().match(/N0CALL-7>ALTNET:/g) ?? []).length,
      air: pair.stats(),
    };
  } finally {
    await Promise.all([nodeA.stop(), nodeB.stop()]);
    await Promise.all([beacon?.stop(), receiver?.stop()]);
    await pair?.stop();
    wd.remove();
  }
}

/** `npm run bench -- catchup-direwolf` */
export async function bench(): Promise<Record<string, unknown>> {
  const r = await direwolfCatchup();
  return {
    note: 'receive-only gateway 144 headers behind a beacon, two real direwolf AFSK 1200 modems joined through real-time audio; bound = airtime of the coded headers (stream codec) in full 256-byte frames incl. AX.25 header, FCS/flags/stuffing allowance and TXDELAY+TXTAIL per frame (the simulated catchup bench bound)',
    seconds: r.seconds,
    boundSeconds: r.boundSeconds,
    ratio: r.ratio,
    target: 1.25,
    bitsOnlySeconds: r.bitsOnlySeconds,
    bitsOnlyRatio: r.bitsOnlyRatio,
    frames: r.frames,
    airBytesPerHeader: r.airBytesPerHeader,
    air: r.air,
  };
}

// Run as a program (the e2e test): one JSON report on stdout.
if (process.argv[1]?.endsWith('catchup-direwolf.js')) {
  const behind = Number(process.argv[2] ?? 144);
  direwolfCatchup(behind, Number(process.env.CATCHUP_TIMEOUT_MS ?? 600_000)).then(
    (r) => {
      process.stdout.write(JSON.stringify(r) + '\n');
      process.exit(0);
    },
    (err: Error) => {
      process.stderr.write(`${err.stack ?? err.message}\n`);
      process.exit(1);
    },
  );
}
