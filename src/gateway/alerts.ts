// Tells the operator when an anomaly starts and when it clears: `alertnotify=<command>` (run
// through /bin/sh with `%s` replaced by a one-line message, bitcoind's convention) and
// `alertwebhook=<url>` (the same event POSTed as JSON). One notification when an anomaly is
// raised, one when it has stayed clear for `clearHoldMs` (hysteresis: an anomaly that flaps back
// within the hold is the same incident and notifies nothing), at most `maxPerHour` per anomaly.
//
// Shell safety. The command line is the operator's own (from altnet.conf), and operators write
// shell there as they do for bitcoind (`echo %s | mail -s altnet root`), so it runs through
// /bin/sh. The message is not theirs: it carries link names, heights and reasons a remote party
// may influence. Like Bitcoin Core's AlertNotify (validation.cpp: SanitizeString, then wrapped
// in single quotes), every character outside a small safe set is dropped from it and the result
// is single-quoted: no quote, `$`, backtick, backslash or newline survives, so inside single or
// double quotes or bare, the shell sees one literal word. The raw message is also passed in the
// environment (ALTNET_ALERT_MESSAGE, never expanded by altnet) with the kind and event.
import { spawn } from 'node:child_process';
import type { Counters } from '../util/counters.js';
import type { Logger } from '../util/log.js';
import { ConfigError } from '../util/errors.js';
import type { Anomaly, AnomalyChange } from '../watchdog/watchdog.js';

/** Bitcoin Core's SAFE_CHARS_DEFAULT (util/strencodings.cpp). */
const SAFE_CHARS = /[^A-Za-z0-9 .,;\-_/:?@()]/g;
/** Longest message handed to the command (a line, not a report). */
const MAX_MESSAGE = 400;
/** Notifications waiting for a command still running; more are dropped and counted. */
const MAX_QUEUED = 32;

/** Drops every character a shell could interpret and single-quotes the rest. Pure. */
export function shellSafeMessage(message: string): string {
  return `'${message.replace(/\s+/g, ' ').replace(SAFE_CHARS, '').slice(0, MAX_MESSAGE)}'`;
}

/** The operator's command with every `%s` replaced by the quoted, sanitized message. Pure. */
export function alertCommandLine(template: string, message: string): string {
  return template.split('%s').join(shellSafeMessage(message));
}

/** Checks an `alertwebhook` URL: http or https, nothing else. */
export function checkWebhookUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError('alert-webhook-url', `alertwebhook=${url}: not a URL; write e.g. http://127.0.0.1:8080/altnet`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new ConfigError('alert-webhook-url', `alertwebhook=${url}: only http:// and https:// URLs are supported`);
  }
  return u;
}

export interface AlertEvent {
  event: AnomalyChange;
  kind: string;
  key: string;
  link?: string;
  /** ISO time the condition began. */
  since: string;
  /** ISO time of this notification. */
  at: string;
  detail: string;
  /** The one-line message given to alertnotify. */
  message: string;
  network: string;
}

export interface AlerterOptions {
  /** alertnotify: shell command line, `%s` replaced by the message. */
  notify?: string;
  /** alertwebhook: URL that receives each event as a JSON POST. */
  webhook?: string;
  network: string;
  log: Logger;
  /** Scoped: pass counters.scoped('alerts.'). */
  counters: Counters;
  /** How long an anomaly must stay clear before "cleared" is sent, ms (default 120 000). */
  clearHoldMs?: number;
  /** Notifications per anomaly key per hour, beyond which they are dropped and counted (default 6). */
  maxPerHour?: number;
  /** Longest a notify command may run, ms (default 60 000); then it is killed. */
  commandTimeoutMs?: number;
  now?: () => number;
}

interface KeyState {
  /** A "raised" notification went out and no "cleared" yet. */
  notified: boolean;
  anomaly: Anomaly;
  clearTimer?: NodeJS.Timeout;
  sent: number[];
}

/** Turns watchdog raise/clear events into deduplicated notifications. */
export class Alerter {
  private readonly keys = new Map<string, KeyState>();
  private readonly queue: AlertEvent[] = [];
  private running = false;
  private stopped = false;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly webhook: URL | undefined;

  constructor(private readonly opts: AlerterOptions) {
    this.webhook = opts.webhook ? checkWebhookUrl(opts.webhook) : undefined;
  }

  get enabled(): boolean {
    return Boolean(this.opts.notify || this.webhook);
  }

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }

  /** The watchdog's onAnomaly. */
  onAnomaly(a: Anomaly, change: AnomalyChange): void {
    if (this.stopped) return;
    let st = this.keys.get(a.key);
    if (change === 'raised') {
      if (st?.clearTimer) {
        // Back within the hold: the same incident, already notified.
        clearTimeout(st.clearTimer);
        st.clearTimer = undefined;
        st.anomaly = a;
        this.opts.counters.inc('suppressed.flap');
        return;
      }
      if (st?.notified) return;
      if (!st) this.keys.set(a.key, (st = { notified: false, anomaly: a, sent: [] }));
      st.anomaly = a;
      if (this.emit(st, 'raised', a)) st.notified = true;
      return;
    }
    if (!st?.notified) return;
    const hold = this.opts.clearHoldMs ?? 120_000;
    const fire = () => {
      st!.clearTimer = undefined;
      st!.notified = false;
      this.emit(st!, 'cleared', a);
    };
    if (hold <= 0) fire();
    else {
      st.clearTimer = setTimeout(fire, hold);
      st.clearTimer.unref();
    }
  }

  /** Queues one notification unless the key is over its hourly limit. Returns whether it was queued. */
  private emit(st: KeyState, change: AnomalyChange, a: Anomaly): boolean {
    if (!this.enabled) return true;
    const now = this.now();
    st.sent = st.sent.filter((t) => now - t < 3_600_000);
    if (st.sent.length >= (this.opts.maxPerHour ?? 6)) {
      this.opts.counters.inc('suppressed.rate');
      this.opts.log.warn('alert not sent: this anomaly already notified too often in the last hour', { key: a.key, event: change });
      return false;
    }
    st.sent.push(now);
    const lasted = change === 'cleared' ? ` after ${formatDuration(now / 1000 - a.since)}` : '';
    const message = `altnet ${this.opts.network}: ${a.kind} ${change}${lasted}: ${a.detail}`.replace(/\s+/g, ' ');
    const ev: AlertEvent = {
      event: change,
      kind: a.kind,
      key: a.key,
      ...(a.link ? { link: a.link } : {}),
      since: new Date(a.since * 1000).toISOString(),
      at: new Date(now).toISOString(),
      detail: a.detail,
      message,
      network: this.opts.network,
    };
    if (this.queue.length >= MAX_QUEUED) {
      this.opts.counters.inc('dropped.queue_full');
      this.opts.log.warn('alert dropped: too many notifications waiting', { key: a.key, event: change });
      return false;
    }
    this.queue.push(ev);
    void this.pump();
    return true;
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.queue.length && !this.stopped) {
        const ev = this.queue.shift()!;
        const work = Promise.all([this.runCommand(ev), this.postWebhook(ev)]).then(() => {});
        this.inFlight.add(work);
        await work;
        this.inFlight.delete(work);
      }
    } finally {
      this.running = false;
    }
  }

  private runCommand(ev: AlertEvent): Promise<void> {
    const template = this.opts.notify;
    if (!template) return Promise.resolve();
    const { log, counters } = this.opts;
    return new Promise<void>((resolve) => {
      const child = spawn('/bin/sh', ['-c', alertCommandLine(template, ev.message)], {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: {
          ...process.env,
          ALTNET_ALERT_MESSAGE: ev.message,
          ALTNET_ALERT_KIND: ev.kind,
          ALTNET_ALERT_EVENT: ev.event,
          ALTNET_ALERT_KEY: ev.key,
        },
      });
      let stderr = '';
      child.stderr?.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-500)));
      const timer = setTimeout(() => child.kill('SIGKILL'), this.opts.commandTimeoutMs ?? 60_000);
      child.once('error', (err) => {
        clearTimeout(timer);
        counters.inc('notify_failures');
        log.warn('alertnotify command could not start', { error: err.message });
        resolve();
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) {
          counters.inc('notify_sent');
          log.info('alert sent', { via: 'alertnotify', kind: ev.kind, event: ev.event, key: ev.key });
        } else {
          counters.inc('notify_failures');
          log.warn('alertnotify command failed', {
            code: code ?? undefined,
            signal: signal ?? undefined,
            stderr: stderr.trim().split('\n').pop() || undefined,
          });
        }
        resolve();
      });
    });
  }

  private async postWebhook(ev: AlertEvent): Promise<void> {
    if (!this.webhook) return;
    const { log, counters } = this.opts;
    try {
      const res = await fetch(this.webhook, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'altnet' },
        body: JSON.stringify({ source: 'altnet', ...ev }),
        signal: AbortSignal.timeout(10_000),
        redirect: 'error',
      });
      await res.arrayBuffer().catch(() => undefined);
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      counters.inc('webhook_sent');
      log.info('alert sent', { via: 'alertwebhook', kind: ev.kind, event: ev.event, key: ev.key });
    } catch (err) {
      counters.inc('webhook_failures');
      log.warn('alertwebhook POST failed', { host: this.webhook.host, error: (err as Error).message });
    }
  }

  /** Drops pending clear timers and waits (at most `ms`) for notifications already running. */
  async stop(ms = 5000): Promise<void> {
    this.stopped = true;
    for (const st of this.keys.values()) if (st.clearTimer) clearTimeout(st.clearTimer);
    this.queue.length = 0;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all([...this.inFlight]), new Promise((r) => (timer = setTimeout(r, ms)))]);
    clearTimeout(timer);
  }
}

function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}
