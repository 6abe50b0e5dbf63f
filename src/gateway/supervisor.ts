// Runs one link driver in its own child process and keeps it running: restarts it with
// exponential backoff when it dies, kills and restarts it when it speaks malformed IPC, and
// quarantines it when it keeps delivering data the chain rejects. Nothing a driver does can
// affect another driver or the node connection.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Socket } from 'node:net';
import type { Logger } from '../util/log.js';
import type { Counters } from '../util/counters.js';
import { AltnetError } from '../util/errors.js';
import { driverEnv, driverNodeFlags } from '../util/node-memory.js';
import { linkTypeEntry } from '../links/registry.js';
import { freshBundleOr } from '../util/bundle-entry.cjs';
import type { HeaderBatch, HeadersWanted, LinkCapabilities, LinkState, TipReport } from '../links/link.js';
import { frameMessage, IpcDecoder, parseChildMessage, DEFAULT_MAX_IPC_MESSAGE, MAX_HEADERS_PER_IPC, type ParentMessage } from './ipc.js';
import type { RouterLink } from './router.js';

/** What the supervisor hands upward; the gateway wires it to the router. */
export interface SupervisedLinkEvents {
  /** Returns false when the chain rejected (part of) the batch, which counts against the link. */
  headers(link: LinkSupervisor, raw: Uint8Array[]): boolean;
  tx(link: LinkSupervisor, raw: Uint8Array): void;
  /** A block the link fetched on request; returns false when it failed verification. */
  block?(link: LinkSupervisor, hash: Uint8Array, raw: Uint8Array): boolean;
  /** The link could not fetch a requested block (not found, timeout, marked source...). */
  blockMissing?(link: LinkSupervisor, hash: Uint8Array, reason: string): void;
  tip(link: LinkSupervisor, report: TipReport): void;
  /** The far end of a radio link asked for headers. */
  headersWanted?(link: LinkSupervisor, req: HeadersWanted): void;
  /** The far end acknowledged transactions (TXACK): 8-byte txid prefixes, internal order. */
  txAck?(link: LinkSupervisor, prefixes: Uint8Array[]): void;
  /** The radio is ready for its next beacon batch (at most `max` headers). */
  beaconWanted?(link: LinkSupervisor, max: number): void;
  /** The driver said hello: its capabilities are known. */
  hello?(link: LinkSupervisor): void;
  state?(link: LinkSupervisor, state: LinkState, reason?: string): void;
}

export interface SupervisorOptions {
  name: string;
  type: string;
  options: Record<string, string>;
  network: string;
  log: Logger;
  counters: Counters;
  events: SupervisedLinkEvents;
  backoff?: { initialMs: number; maxMs: number };
  /** Invalid batches tolerated per window before the link is quarantined. */
  invalidLimit?: { count: number; windowMs: number; quarantineMs: number };
  maxMessageBytes?: number;
  /** JavaScript heap limit of the driver process, MB (node --max-old-space-size). */
  heapMb?: number;
  now?: () => number;
  /** Path of the child entry script; defaults to the compiled driver-host.js. */
  entry?: string;
}

export type SupervisedState = LinkState | 'restarting' | 'quarantined';

/**
 * The compiled child entry, also when this module runs from TypeScript source (tests): the
 * esbuild bundle (CommonJS, scripts/bundle.mjs, part of `npm run build`) when it is at least as new as
 * the compiled driver-host.js, else driver-host.js itself (a later bare tsc makes it newer, so
 * a stale bundle is never run). ALTNET_DRIVER_BUNDLE=0 skips the bundle (the memory bench's
 * reference).
 */
export function driverHostEntry(env: NodeJS.ProcessEnv = process.env): string {
  const here = dirname(fileURLToPath(import.meta.url));
  let plain = resolve(here, 'driver-host.js');
  if (!existsSync(plain)) {
    let dir = here;
    while (!existsSync(resolve(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
    plain = resolve(dir, 'dist/src/gateway/driver-host.js');
    if (!existsSync(plain)) throw new AltnetError('driver-host-missing', `cannot find ${plain}; run \`npm run build\` first`);
  }
  return freshBundleOr(plain, resolve(dirname(plain), 'driver-host.bundle/driver-host.cjs'), env.ALTNET_DRIVER_BUNDLE !== '0');
}

export class LinkSupervisor implements RouterLink {
  readonly name: string;
  private child: ChildProcess | undefined;
  private channel: Socket | undefined;
  private caps: LinkCapabilities | undefined;
  private linkState: SupervisedState = 'stopped';
  private lastReason = '';
  private lastFailure = '';
  private stopping = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private backoffMs: number;
  private startedAt = 0;
  private invalidTimes: number[] = [];
  private quarantinedUntil = 0;
  restarts = 0;
  private childCounters: Record<string, number> = {};
  private childGauges: string[] = [];
  private readonly counters: Counters;

  constructor(private readonly opts: SupervisorOptions) {
    this.name = opts.name;
    this.backoffMs = opts.backoff?.initialMs ?? 1000;
    this.counters = opts.counters.scoped(`link.${opts.name}.`);
  }

  /** Declared by the driver in its hello; a conservative rx-only default until then. */
  get capabilities(): LinkCapabilities {
    return this.caps ?? { direction: 'rx', mtu: 0, bitrate: 0, dutyCycle: 1, carries: [], needsCallsign: false };
  }

  get state(): SupervisedState {
    return this.linkState;
  }

  /** Why the link last went down (kept after it recovers, for status). */
  get reason(): string {
    return this.lastFailure;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Which of driverCounters are gauges (queue lengths, the process's memory...). */
  get driverGauges(): readonly string[] {
    return this.childGauges;
  }

  /** Counters the driver itself reported (frames, airtime...), latest snapshot. */
  get driverCounters(): Record<string, number> {
    return this.childCounters;
  }

  start(): void {
    this.stopping = false;
    this.spawnChild();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child || child.exitCode !== null) {
      this.setState('stopped');
      return;
    }
    this.sendToChild({ t: 'stop' });
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
    this.setState('stopped');
  }

  requestHeaders(locator: Uint8Array[]): void {
    this.sendToChild({ t: 'request-headers', locator: locator.slice(0, 101) });
  }

  sendHeaders(batch: HeaderBatch): void {
    this.sendToChild({
      t: 'send-headers',
      parentHeight: batch.parentHeight,
      parent: batch.parent,
      headers: batch.headers.slice(0, MAX_HEADERS_PER_IPC),
    });
  }

  setContext(fromHeight: number, headers: Uint8Array[]): void {
    this.sendToChild({ t: 'set-context', fromHeight, headers: headers.slice(-MAX_HEADERS_PER_IPC) });
  }

  sendTx(raw: Uint8Array): void {
    this.sendToChild({ t: 'send-tx', raw });
  }

  /** TXACK on this link for 1..16 transactions (txids, internal order). */
  sendTxAck(txids: Uint8Array[]): void {
    this.sendToChild({ t: 'send-tx-ack', txids });
  }

  /** Asks the driver for a block; the answer comes back through events.block / blockMissing. */
  requestBlock(hash: Uint8Array): boolean {
    if (!this.channel || this.channel.destroyed || this.isQuarantined()) return false;
    this.sendToChild({ t: 'fetch-block', hash });
    return true;
  }

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }

  private sendToChild(msg: ParentMessage): void {
    if (!this.channel || this.channel.destroyed) {
      this.counters.inc('dropped_while_down');
      return;
    }
    this.channel.write(frameMessage(msg));
  }

  private spawnChild(): void {
    const { log } = this.opts;
    this.setState('starting');
    const heap = this.opts.heapMb ? [`--max-old-space-size=${this.opts.heapMb}`] : [];
    const entry = linkTypeEntry(this.opts.type);
    const child = spawn(process.execPath, [...driverNodeFlags(entry?.family), ...heap, this.opts.entry ?? driverHostEntry()], {
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
      env: { ...driverEnv(process.env, entry?.speaksTls?.(this.opts.options) ?? true), ALTNET_LINK: this.name },
    });
    this.child = child;
    this.startedAt = this.now();
    const channel = child.stdio[3] as Socket;
    this.channel = channel;
    const decoder = new IpcDecoder(this.opts.maxMessageBytes ?? DEFAULT_MAX_IPC_MESSAGE);

    channel.on('data', (chunk: Buffer) => {
      if (child !== this.child) return;
      try {
        for (const raw of decoder.push(new Uint8Array(chunk))) this.onChildMessage(parseChildMessage(raw));
      } catch (err) {
        const code = err instanceof AltnetError ? err.code : 'internal';
        this.counters.inc('ipc_errors');
        this.counters.inc(`ipc_errors.${code}`);
        log.warn('link driver sent a malformed message; restarting it', { link: this.name, code, reason: (err as Error).message });
        this.lastReason = `malformed message: ${(err as Error).message}`;
        child.kill('SIGKILL');
      }
    });
    channel.on('error', () => {});

    // Keep only a bounded tail of what the driver prints on stderr, for diagnosis.
    let stderrTail = '';
    child.stderr?.on('data', (b: Buffer) => {
      stderrTail = (stderrTail + b.toString()).slice(-2000);
    });

    child.once('exit', (code, signal) => {
      if (child !== this.child) return;
      this.child = undefined;
      this.channel = undefined;
      if (this.stopping) {
        this.setState('stopped');
        return;
      }
      this.counters.inc('exits');
      const why = this.lastReason || (signal ? `killed by ${signal}` : `exited with code ${code}`);
      this.lastFailure = why;
      const tail = stderrTail.trim().split('\n').slice(-1)[0];
      log.warn('link driver stopped; restarting with backoff', {
        link: this.name,
        reason: why,
        stderr: tail || undefined,
        inMs: this.backoffMs,
      });
      this.scheduleRestart();
    });
    this.sendToChild({ t: 'start', name: this.name, type: this.opts.type, options: this.opts.options, network: this.opts.network });
  }

  private scheduleRestart(): void {
    this.setState('restarting');
    // A driver that ran well for a minute earns a fresh backoff.
    if (this.now() - this.startedAt > 60_000) this.backoffMs = this.opts.backoff?.initialMs ?? 1000;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.opts.backoff?.maxMs ?? 60_000);
    this.restartTimer = setTimeout(() => {
      if (this.stopping) return;
      this.restarts++;
      this.counters.inc('restarts');
      this.lastReason = '';
      this.spawnChild();
    }, delay);
    this.restartTimer.unref();
  }

  private setState(state: SupervisedState, reason?: string): void {
    if (reason !== undefined) this.lastReason = reason;
    if (state === this.linkState) return;
    this.linkState = state;
    this.opts.events.state?.(this, state === 'restarting' || state === 'quarantined' ? 'down' : state, reason);
  }

  private isQuarantined(): boolean {
    if (this.quarantinedUntil === 0) return false;
    if (this.now() >= this.quarantinedUntil) {
      this.quarantinedUntil = 0;
      this.invalidTimes = [];
      this.opts.log.info('link quarantine over', { link: this.name });
      this.setState('up');
      return false;
    }
    return true;
  }

  /** Counts an invalid delivery; too many in the window and the link is ignored for a while. */
  private penalize(what: string): void {
    const limit = this.opts.invalidLimit ?? { count: 5, windowMs: 60_000, quarantineMs: 10 * 60_000 };
    const now = this.now();
    this.invalidTimes = this.invalidTimes.filter((t) => now - t < limit.windowMs);
    this.invalidTimes.push(now);
    if (this.invalidTimes.length > limit.count && !this.isQuarantined()) {
      this.quarantinedUntil = now + limit.quarantineMs;
      this.counters.inc('quarantines');
      this.opts.log.warn('link keeps sending invalid data; ignoring it for a while', {
        link: this.name,
        what,
        minutes: Math.round(limit.quarantineMs / 60_000),
      });
      this.lastFailure = `quarantined: sent invalid ${what} ${this.invalidTimes.length} times within ${limit.windowMs / 1000} s`;
      this.setState('quarantined', this.lastFailure);
    }
  }

  private onChildMessage(msg: ReturnType<typeof parseChildMessage>): void {
    const { events, log } = this.opts;
    if (
      (msg.t === 'headers' || msg.t === 'tx' || msg.t === 'block' || msg.t === 'tip' || msg.t === 'headers-wanted' || msg.t === 'tx-ack') &&
      this.isQuarantined()
    ) {
      this.counters.inc('ignored_quarantined');
      return;
    }
    switch (msg.t) {
      case 'hello':
        this.caps = msg.caps;
        events.hello?.(this);
        return;
      case 'headers-wanted':
        events.headersWanted?.(this, { locator: msg.locator, max: msg.max });
        return;
      case 'tx-ack':
        events.txAck?.(this, msg.prefixes);
        return;
      case 'beacon-wanted':
        events.beaconWanted?.(this, msg.max);
        return;
      case 'state':
        if (this.linkState !== 'quarantined') this.setState(msg.state, msg.reason ?? '');
        if (msg.state === 'down' && msg.reason) this.lastReason = msg.reason;
        // Status shows why a link is not up without anyone reading the log.
        if (msg.state === 'down' || msg.state === 'degraded')
          this.lastFailure = msg.reason || `the driver reported ${msg.state} without saying why`;
        return;
      case 'log':
        log[msg.level](msg.msg, { link: this.name });
        return;
      case 'counters':
        this.childCounters = msg.values;
        this.childGauges = msg.gauges ?? [];
        return;
      case 'headers':
        if (!events.headers(this, msg.headers)) this.penalize('headers');
        return;
      case 'tx':
        events.tx(this, msg.raw);
        return;
      case 'block':
        if (events.block?.(this, msg.hash, msg.raw) === false) this.penalize('blocks');
        return;
      case 'block-missing':
        events.blockMissing?.(this, msg.hash, msg.reason);
        return;
      case 'tip':
        events.tip(this, { height: msg.height, hash: msg.hash, chainWork: msg.chainWork });
        return;
    }
  }
}
