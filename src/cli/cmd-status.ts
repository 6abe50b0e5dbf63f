// `altnet status [--json]`: what the running daemon last wrote to <datadir>/status.json.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { GatewayStatus } from '../gateway/gateway.js';
import { loadConfig } from './config.js';
import type { CliIO } from './io.js';
import { flag, parseCommand, type CommandSpec } from './args.js';
import { ALTNET_VERSION } from '../util/version.js';
import { formatEta } from '../util/progress.js';
import { describeNextPoll } from '../links/source/polite.js';

const USAGE = `usage: altnet status [--json] [--conf=FILE] [-datadir=DIR] [-key=value ...]

Shows links, their state and counters, the node tip, the chain tip, anomalies and pending
transactions, as the running daemon last wrote them to <datadir>/status.json (every 2 s).
The datadir is found as the daemon finds it: -datadir=, else datadir= in the config file
(--conf=, $ALTNET_CONF, else /etc/altnet/altnet.conf), else $ALTNET_DATADIR, else
/var/lib/altnet when it exists (the service), else ~/.altnet.
  --json   the same as JSON, with statusAgeSeconds and daemonRunning

Exit codes: 0 the daemon is running, 1 no status found, 2 usage or config error,
3 the status is stale (the daemon is not running).`;

const SPEC: CommandSpec = { name: 'status', options: [{ name: 'json', type: 'bool' }], configFlags: true };

export async function run(args: string[], io: CliIO): Promise<number> {
  const parsed = parseCommand(args, SPEC, USAGE, io, ALTNET_VERSION);
  if (typeof parsed === 'number') return parsed;
  const json = flag(parsed, 'json');
  let datadir: string;
  try {
    datadir = loadConfig([...parsed.configArgs, ...parsed.positional], io).datadir;
  } catch (err) {
    io.err(`altnet: ${(err as Error).message}`);
    return 2;
  }
  const path = join(datadir, 'status.json');
  let status: GatewayStatus;
  let ageS: number;
  try {
    status = JSON.parse(readFileSync(path, 'utf8')) as GatewayStatus;
    ageS = (Date.now() - statSync(path).mtimeMs) / 1000;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES') {
      io.err(
        `altnet: ${path} is not readable by you: it belongs to the service's group; add yourself to it (sudo usermod -aG altnet $USER, then log in again) or use sudo`,
      );
      return 1;
    }
    io.err(`altnet: no status at ${path} (${code ?? (err as Error).message}): is the daemon running with this datadir?`);
    return 1;
  }
  const stale = ageS > 10;
  if (json) {
    io.out(JSON.stringify({ ...status, statusAgeSeconds: Math.round(ageS), daemonRunning: !stale }, null, 2));
    return stale ? 3 : 0;
  }
  io.out(
    `altnet ${status.version} on ${status.network}, mode ${status.mode}, since ${status.startedAt}${stale ? `  (status is ${Math.round(ageS)} s old: daemon not running?)` : ''}`,
  );
  io.out(`chain: height ${status.chain.height} ${status.chain.hash}`);
  if (status.agreement) io.out(`agreement: ${status.agreement.summary}`);
  const sync = status.sync;
  if (sync && !sync.finished) {
    io.out(
      `sync:  ${sync.what} ${sync.done} of ${sync.target} (${sync.percent} %), ${sync.rate} ${sync.unit}/s${sync.etaSeconds !== null ? `, about ${formatEta(sync.etaSeconds)} to go` : ''}`,
    );
  }
  const n = status.node;
  io.out(
    `node:  ${n.connections ? `${n.connections} connection(s) ${n.peers.map((p) => `${p.agent ?? '?'} ${p.transport ?? ''}`).join(', ')}` : `not connected (is addnode=${status.listen ?? '127.0.0.1:8334'} in bitcoin.conf?)`}${n.tip ? `, tip ${n.tip.height}` : ''}`,
  );
  io.out(`links: ${status.links.length ? '' : 'none configured'}`);
  for (const l of status.links) {
    const c = l.counters;
    const brief = ['headers_rx', 'headers_accepted', 'invalid_headers', 'frames_tx', 'frames_rx', 'restarts', 'deferred']
      .filter((k) => c[k])
      .map((k) => `${k}=${c[k]}`)
      .join(' ');
    const heard = l.radio
      ? l.radio.lastFrameAt
        ? ` heard ${formatEta((Date.now() - Date.parse(l.radio.lastFrameAt)) / 1000)} ago`
        : ' nothing heard yet'
      : '';
    const poll = l.poll ? `  ${describeNextPoll(l.poll, Date.now())}` : '';
    io.out(
      `  ${l.name.padEnd(12)} ${l.type.padEnd(9)} ${l.state.padEnd(12)} ${l.direction.padEnd(6)} ${brief}${heard}${poll}${l.lastFailure ? `  last failure: ${l.lastFailure}` : ''}`,
    );
  }
  io.out(`anomalies: ${status.anomalies.length ? '' : 'none'}`);
  for (const a of status.anomalies) io.out(`  ${a.kind} since ${a.since}: ${a.detail}`);
  const pending = status.pendingTx ?? [];
  io.out(`pending tx: ${pending.length ? '' : 'none'}`);
  for (const t of pending) {
    const last = t.lastSentAt ? `, last ${t.lastSentAt}${t.lastLinks.length ? ` on ${t.lastLinks.join(',')}` : ''}` : '';
    // Relayed: a far gateway acknowledged it over radio (TXACK); radio resends stopped, the watch goes on.
    const relayed = t.relayedAt
      ? `relayed via ${t.relayedVia ?? '?'} at ${t.relayedAt} (acknowledged over radio, no more radio resends); `
      : '';
    io.out(`  ${t.txid} ${t.vsize} vB since ${t.addedAt}: ${relayed}sent ${t.attempts}x${last}, next ${t.nextAttemptAt}`);
  }
  const rescues = status.rescues ?? [];
  const blocks = status.blocks;
  io.out(
    `rescues: ${rescues.length ? '' : 'none'}${blocks ? `  (block store: ${blocks.stored} blocks, ${(blocks.bytes / 1e6).toFixed(1)} of ${(blocks.maxBytes / 1e6).toFixed(0)} MB)` : ''}`,
  );
  for (const r of rescues) {
    const sources =
      Object.entries(r.blockSources)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || 'none yet';
    const end = r.state === 'done' ? `caught up ${r.caughtUpAt} (${r.seconds} s), tip ${r.finalTip?.height} ${r.finalTip?.hash}` : r.state;
    // The latest failed rescue says when the next try is (backoff, src/gateway/rescue.ts).
    const retry = r.nextTryAt ? `; failed ${r.failuresInARow} time(s) in a row, next try at ${r.nextTryAt}` : '';
    io.out(
      `  #${r.id} since ${r.startedAt}${r.anomalySince ? ` (anomaly since ${r.anomalySince})` : ''}: node at ${r.nodeTipAtStart?.height ?? '?'} (fork at ${r.forkHeight}) -> ${r.target.height}; headers from ${r.headerLink ?? '?'}; blocks from ${sources}; delivered ${r.blocksDelivered} (p2p ${r.deliveredVia.p2p}, rpc ${r.deliveredVia.rpc}); ${end}${r.reason ? `: ${r.reason}` : ''}${retry}`,
    );
  }
  return stale ? 3 : 0;
}
