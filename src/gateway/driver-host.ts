// Entry point of a link driver's child process. Talks to the supervisor over fd 3 with the
// framed messages of ipc.ts, builds the Link named in the `start` message, and relays its
// events. If this process dies or misbehaves, only this link is affected.
import { Socket } from 'node:net';
import { networkByName } from '../chain/networks.js';
import { Counters } from '../util/counters.js';
import { LoopLag } from '../util/loop-lag.js';
import type { Logger, LogFields } from '../util/log.js';
import { createLink } from '../links/registry.js';
import type { Link, LinkEvents } from '../links/link.js';
import { frameMessage, IpcDecoder, MAX_HEADERS_PER_IPC, parseParentMessage, type ChildMessage } from './ipc.js';

const channel = new Socket({ fd: 3, readable: true, writable: true });
const decoder = new IpcDecoder();
const counters = new Counters();
let link: Link | undefined;

function send(msg: ChildMessage): void {
  channel.write(frameMessage(msg));
}

function fmt(msg: string, fields?: LogFields): string {
  const extra = Object.entries(fields ?? {})
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');
  return (extra ? `${msg} ${extra}` : msg).slice(0, 1000);
}

const log: Logger = {
  debug: (m, f) => send({ t: 'log', level: 'debug', msg: fmt(m, f) }),
  info: (m, f) => send({ t: 'log', level: 'info', msg: fmt(m, f) }),
  warn: (m, f) => send({ t: 'log', level: 'warn', msg: fmt(m, f) }),
  error: (m, f) => send({ t: 'log', level: 'error', msg: fmt(m, f) }),
  child: () => log,
};

const events: LinkEvents = {
  headers: (raw) => {
    for (let i = 0; i < raw.length; i += MAX_HEADERS_PER_IPC) send({ t: 'headers', headers: raw.slice(i, i + MAX_HEADERS_PER_IPC) });
  },
  tx: (raw) => send({ t: 'tx', raw }),
  tip: (r) => send({ t: 'tip', height: r.height, hash: r.hash, chainWork: r.chainWork }),
  state: (state, reason) => send({ t: 'state', state, reason: reason?.slice(0, 500) }),
  txAck: (prefixes) => send({ t: 'tx-ack', prefixes }),
  headersWanted: (req) => send({ t: 'headers-wanted', locator: req.locator.slice(0, 16), max: req.max }),
  beaconWanted: (max) => send({ t: 'beacon-wanted', max }),
};

async function onMessage(raw: unknown): Promise<void> {
  const msg = parseParentMessage(raw);
  switch (msg.t) {
    case 'start': {
      link = await createLink(msg.type, msg.name, msg.options, { log, counters, events, network: networkByName(msg.network) });
      send({ t: 'hello', caps: link.capabilities });
      events.state('starting');
      await link.start();
      return;
    }
    case 'request-headers':
      await link?.requestHeaders?.(msg.locator);
      return;
    case 'send-headers':
      await link?.sendHeaders?.({ parentHeight: msg.parentHeight, parent: msg.parent, headers: msg.headers });
      return;
    case 'set-context':
      link?.setContext?.(msg.fromHeight, msg.headers);
      return;
    case 'send-tx':
      await link?.sendTx?.(msg.raw);
      return;
    case 'send-tx-ack':
      await link?.sendTxAck?.(msg.txids);
      return;
    case 'fetch-block': {
      // Not awaited: several blocks may be in flight; each answer names its hash.
      const hash = msg.hash;
      if (!link?.fetchBlock) {
        send({ t: 'block-missing', hash, reason: 'this link does not fetch blocks' });
        return;
      }
      link.fetchBlock(hash).then(
        (raw) => send({ t: 'block', hash, raw }),
        (err: unknown) => send({ t: 'block-missing', hash, reason: (err instanceof Error ? err.message : String(err)).slice(0, 500) }),
      );
      return;
    }
    case 'stop':
      await link?.stop();
      events.state('stopped');
      channel.end(() => process.exit(0));
      return;
  }
}

function fail(err: unknown): void {
  const message = err instanceof Error ? err.message : String(err);
  // A driver that cannot do its job says why and exits; the supervisor restarts it with backoff.
  try {
    send({ t: 'state', state: 'down', reason: message.slice(0, 500) });
  } finally {
    channel.end(() => process.exit(1));
    setTimeout(() => process.exit(1), 500).unref();
  }
}

channel.on('data', (chunk: Buffer) => {
  let msgs: unknown[];
  try {
    msgs = decoder.push(new Uint8Array(chunk));
  } catch (err) {
    fail(err);
    return;
  }
  for (const m of msgs) onMessage(m).catch(fail);
});
channel.on('close', () => process.exit(0));
channel.on('error', () => process.exit(1));
process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);

// This process's own health, reported with the driver's counters: resident memory and how late
// its event loop runs timers (util/loop-lag.ts).
const lag = new LoopLag();
lag.start();
setInterval(() => {
  counters.set('process.rss_bytes', process.memoryUsage.rss());
  const { meanSeconds, maxSeconds } = lag.take();
  counters.set('process.eventloop_lag_seconds', meanSeconds);
  counters.set('process.eventloop_lag_max_seconds', maxSeconds);
  const values = counters.snapshot();
  const gauges = counters.gaugeNames();
  if (Object.keys(values).length) send({ t: 'counters', values, gauges });
}, 2000).unref();
