// `altnet demo`: everything embedded, no hardware, no external node. Two real Bitcoin Core
// regtest nodes: A is eclipsed (its only peer is a receive-only altnet gateway, and an
// "attacker" has fed it a short chain of its own), B mines the honest chain behind a beacon
// gateway. The gateways share nothing but a simulated LoRa channel with airtime, loss and a
// duty-cycle limit. The demo shows A learning the better chain over the air, then A's gateway
// fetching the blocks over a p2p link, verifying them and pushing them to A until A's active
// tip is B's (the attacker's blocks orphaned), then stops everything.
import { NETWORKS } from '../chain/networks.js';
import { Gateway } from '../gateway/gateway.js';
import { SimAir, seededRandom } from '../links/sim/air.js';
import { loraAirtimeMs, loraParams } from '../links/radio/airtime.js';
import { EU868_MAX_PAYLOAD } from '../links/sim/transport.js';
import { ATTACKER_ADDRESS, BitcoindProcess, chooseBitcoind, sleep, type BitcoindChoice } from '../node/bitcoind.js';
import { createLogger } from '../util/log.js';
import { fromHex } from '../util/bytes.js';
import { encodeTip } from '../codec/headers.js';
import { encodeFrame, FrameType } from '../codec/frames.js';
import { constants as osConstants } from 'node:os';
import type { CliIO } from './io.js';
import { flag, num, parseCommand, str, type CommandSpec } from './args.js';
import { ALTNET_VERSION } from '../util/version.js';

const USAGE = `usage: altnet demo [--blocks=N] [--attacker-blocks=N] [--loss=P] [--sf=7..12] [--dutycycle=D] [--timescale=N] [--timeout=S] [--seed=N] [--verbose]

Runs an eclipsed regtest node, a mining regtest node, a beacon gateway and a receive-only gateway
joined by a simulated LoRa channel, and shows the eclipsed node learning the better chain and
being rescued onto it with verified blocks.
  --blocks=N           blocks the honest node mines before the beacon starts (default 30)
  --attacker-blocks=N  blocks of the attacker's chain the eclipsed node starts on (default 3)
  --loss=P             share of frames each receiver misses (default 0.2)
  --sf=N               LoRa spreading factor, 125 kHz, CR 4/5 (default 7)
  --dutycycle=D        legal airtime share (default 0.1: EU868 869.4-869.65 MHz sub-band)
  --timescale=N        run the simulated air, its duty-cycle limiters and the beacon's timers N
                       times faster than real time (default 1, or when the duty cycle allows less
                       than one frame per 10 s, enough for one per 2 s: 13 at SF12 and 10%); the
                       output says so and gives airtime and waits in simulated time
  --timeout=S          give up after S seconds (default 300, or longer when the air is slow: 60
                       full frames' worth of the duty-cycle budget at the time scale)
  --seed=N             seed of the channel's loss pattern (default 1)
  --verbose            show the gateways' log lines
  --bitcoind=PATH      the bitcoind to run (default: the bundled Bitcoin Core 30.2 on x86-64,
                       else bitcoind from PATH, e.g. on a Raspberry Pi)

Ctrl-C stops the nodes and removes their temporary directories.`;

/** Signals that stop the demo cleanly (exit code 128 + the signal's number, as a shell reports it). */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

interface DemoOptions {
  blocks: number;
  attackerBlocks: number;
  loss: number;
  sf: number;
  dutycycle: number;
  timescale: number;
  timeoutS: number;
  seed: number;
  verbose: boolean;
}

const SPEC: CommandSpec = {
  name: 'demo',
  options: [
    { name: 'blocks', type: 'int', min: 1, max: 500 },
    { name: 'attacker-blocks', type: 'int', min: 0, max: 50 },
    { name: 'loss', type: 'number', min: 0, max: 0.9 },
    { name: 'sf', type: 'int', min: 7, max: 12 },
    { name: 'dutycycle', type: 'number', min: 0.001, max: 1 },
    { name: 'timescale', type: 'number', min: 1, max: 1000 },
    { name: 'timeout', type: 'int', min: 10, max: 86_400 },
    { name: 'seed', type: 'int', min: 0, max: 2 ** 31 },
    { name: 'verbose', type: 'bool' },
    { name: 'bitcoind', type: 'string' },
  ],
};

export async function run(args: string[], io: CliIO): Promise<number> {
  const parsed = parseCommand(args, SPEC, USAGE, io, ALTNET_VERSION);
  if (typeof parsed === 'number') return parsed;
  if (parsed.positional.length) {
    io.err(`altnet demo: unexpected argument "${parsed.positional[0]}"\n\n${USAGE}`);
    return 2;
  }
  const o: DemoOptions = {
    blocks: num(parsed, 'blocks') ?? 30,
    attackerBlocks: num(parsed, 'attacker-blocks') ?? 3,
    loss: num(parsed, 'loss') ?? 0.2,
    sf: num(parsed, 'sf') ?? 7,
    dutycycle: num(parsed, 'dutycycle') ?? 0.1,
    timescale: num(parsed, 'timescale') ?? 0,
    timeoutS: num(parsed, 'timeout') ?? 0,
    seed: num(parsed, 'seed') ?? 1,
    verbose: flag(parsed, 'verbose'),
  };
  let binary: BitcoindChoice;
  try {
    binary = chooseBitcoind({ given: str(parsed, 'bitcoind') });
  } catch (err) {
    io.err(`altnet demo: ${(err as Error).message}`);
    return 2;
  }
  if (binary.source !== 'bundled') io.out(`using ${binary.path} (${binary.source === 'path' ? 'from PATH' : '--bitcoind'})`);
  const t0 = Date.now();
  const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s`;
  const say = (line: string) => io.out(`[${elapsed()}] ${line}`);
  const log = o.verbose ? createLogger({ level: 'info' }) : createLogger({ level: 'error' });
  const lora = loraParams(o.sf);

  // The air carries one frame per (airtime / duty cycle) on average (the limiter paces the
  // budget); allow 60 full frames' worth, the headers, repair fragments, losses and tips.
  const mtu = EU868_MAX_PAYLOAD[o.sf] ?? 51;
  const perFrameS = loraAirtimeMs(mtu, lora) / o.dutycycle / 1000;
  // On a slow air (SF12 at 10%: one frame per 25 s) the demo runs the radio side on compressed
  // time, so it ends in minutes; nothing else changes: the same frames, airtime, losses and limits.
  if (!o.timescale) o.timescale = perFrameS > 10 ? Math.ceil(perFrameS / 2) : 1;
  if (!o.timeoutS) o.timeoutS = Math.max(300, Math.ceil((60 * perFrameS) / o.timescale));
  const air = new SimAir({ loss: o.loss, lora, random: seededRandom(o.seed), speedup: o.timescale });
  const parts: { stop(): Promise<void> }[] = [];
  let nodeA: BitcoindProcess | undefined;
  let nodeB: BitcoindProcess | undefined;
  // Ctrl-C, kill or a closed terminal: stop the nodes and remove their temporary directories
  // before leaving. (A death that cannot be caught, SIGKILL or a crash, is covered by the nodes
  // themselves: see orphanSafeLaunch in node/bitcoind.ts; the gateways' drivers exit when their
  // IPC channel closes, and the air lives in this process.)
  let cleaned: Promise<void> | undefined;
  const cleanup = () =>
    (cleaned ??= (async () => {
      await Promise.allSettled([nodeA?.stop(), nodeB?.stop()]);
      await Promise.allSettled(parts.map((p) => p.stop()));
      await air.close();
    })());
  const onSignal = (sig: NodeJS.Signals) => {
    io.err(`altnet demo: ${sig}: stopping the nodes and removing their temporary directories`);
    void cleanup().finally(() => process.exit(128 + osConstants.signals[sig]));
  };
  for (const sig of STOP_SIGNALS) process.once(sig, onSignal);
  try {
    const airPort = await air.start();
    say(
      `simulated LoRa channel: SF${o.sf}/125 kHz/CR4-5, ${(o.loss * 100).toFixed(0)}% loss, ${(o.dutycycle * 100).toFixed(1)}% duty cycle (127.0.0.1:${airPort}/udp)`,
    );
    say(
      `one ${mtu}-byte frame takes ${(perFrameS * o.dutycycle).toFixed(2)} s of airtime; the duty cycle allows one every ${perFrameS.toFixed(1)} s on average (timeout ${o.timeoutS} s)`,
    );
    if (o.timescale > 1)
      say(
        `simulated time: the air, its duty-cycle limiters and the beacon's timers run ${o.timescale}x faster than real time (--timescale); airtime figures are simulated seconds, [times] are real`,
      );
    const link = (direction: string) => ({
      name: 'lora',
      type: 'sim',
      options: {
        type: 'sim',
        air: `127.0.0.1:${airPort}`,
        sf: String(o.sf),
        dutycycle: String(o.dutycycle),
        direction,
        timescale: String(o.timescale),
      },
    });
    const beacon = await Gateway.start({
      network: NETWORKS.regtest,
      listen: { host: '127.0.0.1', port: 0 },
      mode: 'beacon',
      links: [link('tx')],
      log: log.child('beacon'),
      checkpoint: null,
    });
    parts.push(beacon);
    nodeA = new BitcoindProcess({ name: 'demo-A', binary });
    nodeB = new BitcoindProcess({ name: 'demo-B', binary, args: [`-addnode=127.0.0.1:${beacon.nodePort}`] });
    await Promise.all([nodeA.start(), nodeB.start()]);
    say('Bitcoin Core 30.2 regtest nodes started: A (eclipsed), B (honest miner, peer of the beacon gateway)');

    let attackTip: string | undefined;
    if (o.attackerBlocks > 0) {
      // Mined to the attacker's own address: a real fork, never the same blocks as B's.
      await nodeA.mine(o.attackerBlocks, ATTACKER_ADDRESS);
      attackTip = await nodeA.rpc<string>('getbestblockhash');
      say(
        `the attacker feeds A a chain of its own: A is at height ${o.attackerBlocks} (${attackTip.slice(0, 16)}…) and sees nothing better`,
      );
    }
    await nodeB.mine(o.blocks);
    const bTip = await nodeB.rpc<string>('getbestblockhash');
    const bHeight = await nodeB.rpc<number>('getblockcount');
    say(`B mined ${o.blocks} blocks: honest tip ${bHeight} ${bTip.slice(0, 16)}…; the beacon starts sending headers over the air`);

    // A's gateway: headers only from the LoRa radio (receive-only), blocks only from a p2p link
    // to an honest peer (here B; in real life e.g. a peer reached over Tor), and A's RPC for the
    // honest blocks below the attacker's tip, which Core ignores when they come unrequested.
    const receiver = await Gateway.start({
      network: NETWORKS.regtest,
      listen: { host: '127.0.0.1', port: 0 },
      mode: 'receive-only',
      links: [link('rx'), { name: 'blocks', type: 'p2p', options: { type: 'p2p', peer: `127.0.0.1:${nodeB.p2pPort}`, headers: '0' } }],
      log: log.child('receiver'),
      checkpoint: null,
      nodeRpc: { host: '127.0.0.1', port: nodeA.rpcPort, user: 'altnet', password: 'altnet-test' },
    });
    parts.push(receiver);
    await nodeA.rpc('addnode', `127.0.0.1:${receiver.nodePort}`, 'add');
    await nodeA.rpc('addnode', `127.0.0.1:${receiver.nodePort}`, 'onetry');
    say(
      `A's receive-only gateway started: headers from the LoRa radio only, blocks from a p2p link (headers=0) to an honest peer; A's only peer is this gateway`,
    );

    const viewA = async () => {
      const tips = await nodeA!.rpc<Array<{ hash: string; height: number; status: string }>>('getchaintips');
      const best = await nodeA!.rpc<string>('getbestblockhash');
      return { tips, best, height: await nodeA!.rpc<number>('getblockcount'), headers: Math.max(...tips.map((t) => t.height)) };
    };
    let lastLine = '';
    let lastWaiting = '';
    const deadline = t0 + o.timeoutS * 1000;
    let knewAt: number | undefined;
    let rescuedAt: number | undefined;
    for (;;) {
      const a = await viewA();
      const r = receiver.rescue.records()[0];
      const line = `air: ${air.stats.frames} frames, ${air.stats.bytes} bytes, ${(air.stats.airtimeMs / 1000).toFixed(1)} s airtime, ${air.stats.lost} lost | gateway chain ${receiver.chain.tip().height} | A: headers ${a.headers}, active tip ${a.height}${r ? ` | rescue ${r.state}, ${r.blocksDelivered} blocks delivered` : ''}`;
      // Say plainly when the beacon is silent because the duty-cycle budget is spent.
      const next = beacon.status().links[0]?.counters.next_tx_at_ms ?? 0;
      // The gauge is wall-clock time, also on compressed time (the link converts it).
      const waiting =
        next > Date.now() ? ` | beacon: airtime budget used up, next frame at ${new Date(next).toISOString().slice(11, 19)} UTC` : '';
      if (line !== lastLine || (waiting && waiting !== lastWaiting)) say(line + waiting);
      lastWaiting = waiting;
      lastLine = line;
      if (!knewAt && a.tips.some((t) => t.hash === bTip)) {
        knewAt = Date.now();
        say(`A knows B's chain (headers up to ${bHeight}); the gateway fetches, verifies and pushes the blocks`);
      }
      if (a.best === bTip) {
        rescuedAt = Date.now();
        say(`A's active tip is B's tip ${bHeight} ${bTip.slice(0, 16)}…: rescued`);
        break;
      }
      if (Date.now() > deadline) break;
      await sleep(knewAt ? 250 : 1000);
    }
    if (!rescuedAt) {
      const r = receiver.rescue.records()[0];
      io.err(
        `altnet demo: A was not moved to B's chain within ${o.timeoutS} s${r?.reason ? `: ${r.reason}` : ''}${lastWaiting ? ` (${lastWaiting.slice(3)}: the duty cycle paces the air; give it more time with --timeout=)` : ''}`,
      );
      return 1;
    }
    // The gateway's own record (it sees A's tip move through A's RPC and its P2P answers).
    const until = Date.now() + 10_000;
    while (receiver.rescue.records()[0]?.state !== 'done' && Date.now() < until) await sleep(100);
    // Headers may cross the air in more than one batch, each a rescue of its own: sum them up.
    const records = receiver.rescue.records().reverse();
    const last = records[records.length - 1];
    const blockSources: Record<string, number> = {};
    for (const r of records) for (const [k, v] of Object.entries(r.blockSources)) blockSources[k] = (blockSources[k] ?? 0) + v;
    const rescue = records.length
      ? {
          headerLink: records[0].headerLink,
          blockSources,
          deliveredVia: {
            p2p: records.reduce((n, r) => n + r.deliveredVia.p2p, 0),
            rpc: records.reduce((n, r) => n + r.deliveredVia.rpc, 0),
          },
          seconds: last.caughtUpAt ? (Date.parse(last.caughtUpAt) - Date.parse(records[0].startedAt)) / 1000 : undefined,
          finalTip: last.finalTip,
          count: records.length,
        }
      : undefined;

    // One more block: its header crosses the air as one standalone frame, its block follows.
    const newTipStart = Date.now();
    const [fresh] = await nodeB.mine(1);
    let headerMs: number | undefined;
    let blockMs: number | undefined;
    // A lost tip frame is repaired by the beacon's next pass of its newest batch: on a slow air
    // that takes many frames, so wait 60 frames' worth of the duty cycle (at the time scale), at least 60 s.
    const newTipWaitS = Math.max(60, Math.ceil((60 * perFrameS) / o.timescale));
    while (Date.now() < newTipStart + newTipWaitS * 1000 && blockMs === undefined) {
      const a = await viewA();
      if (headerMs === undefined && a.tips.some((t) => t.hash === fresh)) headerMs = Date.now() - newTipStart;
      if (a.best === fresh) blockMs = Date.now() - newTipStart;
      else await sleep(100);
    }
    if (blockMs !== undefined)
      say(
        `B mined block ${bHeight + 1}; A had its header ${((headerMs ?? blockMs) / 1000).toFixed(1)} s later and it as its tip ${(blockMs / 1000).toFixed(1)} s later`,
      );
    const peers = await nodeA.rpc<unknown[]>('getpeerinfo');
    const banned = await nodeA.rpc<unknown[]>('listbanned');
    const tips = await nodeA.rpc<Array<{ hash: string; status: string }>>('getchaintips');
    const attackStatus = attackTip ? tips.find((t) => t.hash === attackTip)?.status : undefined;
    const rawHeader = async (hash: string) => fromHex(await nodeB!.rpc<string>('getblockheader', hash, false));
    const parentHash = await nodeB.rpc<string>('getblockhash', bHeight);
    const tipFrame = encodeFrame(
      FrameType.TIP,
      encodeTip({ header: await rawHeader(fresh), height: bHeight + 1, parent: await rawHeader(parentHash) }),
      { integrity: 'crc16' },
    ).length;
    const sources = rescue
      ? Object.entries(rescue.blockSources)
          .map(([k, v]) => `${k} (${v} verified)`)
          .join(', ')
      : 'none';
    io.out('');
    io.out('summary');
    io.out(
      `  blocks mined by B        ${o.blocks + 1} (A's attacker chain: ${o.attackerBlocks}${attackStatus ? `, now ${attackStatus}: orphaned` : ''})`,
    );
    io.out(
      `  frames on the air        ${air.stats.frames} (${air.stats.bytes} bytes, ${(air.stats.airtimeMs / 1000).toFixed(1)} s airtime)`,
    );
    io.out(`  frames lost              ${air.stats.lost} of ${air.stats.lost + air.stats.delivered} deliveries`);
    io.out(`  headers came over        ${rescue?.headerLink ?? '?'} (simulated LoRa, receive-only)`);
    io.out(
      `  blocks came from         ${sources}; to A as ${rescue?.deliveredVia.p2p ?? 0} unsolicited P2P blocks + ${rescue?.deliveredVia.rpc ?? 0} over RPC (below the attacker's tip work)`,
    );
    const simulated = (ms: number) => (o.timescale > 1 ? ` (${((ms * o.timescale) / 1000).toFixed(0)} s of simulated air time)` : '');
    io.out(`  A learned B's chain      ${knewAt ? ((knewAt - t0) / 1000).toFixed(1) + ' s from start' + simulated(knewAt - t0) : '?'}`);
    io.out(
      `  rescue took              ${rescue?.seconds !== undefined ? rescue.seconds.toFixed(1) + ' s' : '?'} (better headers known to the gateway -> A's active tip on B's chain${rescue && rescue.count > 1 ? `; ${rescue.count} rescues, one per header batch` : ''})`,
    );
    io.out(
      `  A's tip = B's tip        ${rescue?.finalTip ? `yes, height ${rescue.finalTip.height} ${rescue.finalTip.hash.slice(0, 16)}…` : 'yes'}`,
    );
    io.out(
      `  tip frame                ${tipFrame} bytes instead of 80, ${loraAirtimeMs(tipFrame, lora).toFixed(0)} ms of SF${o.sf} airtime (one packet)`,
    );
    io.out(
      `  new block to A           ${blockMs !== undefined ? `header ${((headerMs ?? blockMs) / 1000).toFixed(1)} s, active tip ${(blockMs / 1000).toFixed(1)} s` : `not its tip within ${newTipWaitS} s`}`,
    );
    io.out(`  A's peers / bans         ${peers.length} / ${banned.length} (altnet was never disconnected or banned)`);
    return blockMs !== undefined && banned.length === 0 ? 0 : 1;
  } finally {
    for (const sig of STOP_SIGNALS) process.off(sig, onSignal);
    await cleanup();
  }
}
