// The read-only status page on loopback (`status=127.0.0.1:PORT`): `/` is plain HTML rendered
// here, `/status.js` a small script that re-fetches the rendered part every few seconds,
// `/status.json` the same data for programs (an LN node asking "am I eclipsed?"), and, when the
// metrics listener is shared, `/metrics`. Nothing here changes any state.
//
// Safety: everything shown may come from a remote party (a peer's user agent, a server's error
// text), so every value is HTML-escaped by one function (esc) and the page's Content-Security-
// Policy allows no inline script. Only loopback addresses may listen, and requests whose Host
// header is not a loopback name are refused, so a web page the operator visits cannot read the
// status through DNS rebinding.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { isLoopback } from '../util/net.js';
import { describeNextPoll } from '../links/source/polite.js';

/** Escapes text for HTML element content and quoted attribute values. Pure. */
export function esc(v: unknown): string {
  return String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function ago(iso: unknown, now: number): string {
  if (typeof iso !== 'string' || iso === '') return '';
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return '';
  return describeMs(now - t, ' ago', 'in ');
}

function describeMs(ms: number, suffix = '', prefixFuture = ''): string {
  const future = ms < 0;
  const s = Math.round(Math.abs(ms) / 1000);
  const txt =
    s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : s < 172_800 ? `${(s / 3600).toFixed(1)} h` : `${Math.round(s / 86400)} d`;
  return future ? `${prefixFuture}${txt}` : `${txt}${suffix}`;
}

function stateClass(state: unknown): string {
  switch (state) {
    case 'up':
      return 'ok';
    case 'starting':
    case 'degraded':
    case 'restarting':
    case 'waiting-for-device':
      return 'warn';
    case 'stopped':
      return 'off';
    default:
      return 'bad';
  }
}

function table(headers: string[], rows: string[][], cls = ''): string {
  if (rows.length === 0) return '';
  return `<table${cls ? ` class="${cls}"` : ''}><thead><tr>${headers.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

function short(hash: unknown): string {
  const h = String(hash ?? '');
  return h.length > 20 ? `<span title="${esc(h)}">${esc(h.slice(0, 8))}…${esc(h.slice(-8))}</span>` : esc(h);
}

function progressBar(p: unknown): string {
  if (!isObj(p)) return '';
  const pct = Math.max(0, Math.min(100, Number(p.percent) || 0));
  const eta = typeof p.etaSeconds === 'number' ? `, ${describeMs(p.etaSeconds * 1000)} to go` : '';
  const label = p.finished
    ? `${esc(p.what)}: done at ${esc(p.done)}`
    : `${esc(p.what)}: ${esc(p.done)} of ${esc(p.target)} (${pct.toFixed(1)} %), ${esc(p.rate)} ${esc(p.unit)}/s${esc(eta)}`;
  return `<div class="progress"><div class="bar" style="width:${pct}%"></div><span>${label}</span></div>`;
}

function renderLink(l: Obj, now: number): string[] {
  const counters = isObj(l.counters) ? l.counters : {};
  const radio = isObj(l.radio) ? l.radio : undefined;
  const parts: string[] = [];
  if (radio) {
    if (radio.lastFrameAt) parts.push(`last frame heard ${esc(ago(radio.lastFrameAt, now))}`);
    else parts.push('no frame heard yet');
    if (typeof radio.airtimeBudgetMs === 'number' && radio.airtimeBudgetMs > 0) {
      const used = Number(radio.airtimeUsedMs) || 0;
      parts.push(
        `airtime ${(used / 1000).toFixed(1)} s used, ${(Math.max(0, radio.airtimeBudgetMs - used) / 1000).toFixed(1)} s left this ${esc(describeMs(Number(radio.airtimeWindowMs) || 3_600_000))}` +
          (Number(radio.timescale) > 1
            ? ` of compressed time (this simulated link runs ${esc(radio.timescale)}x faster than real time)`
            : ''),
      );
    }
    if (radio.nextFrameAt) parts.push(`next frame ${esc(ago(radio.nextFrameAt, now)) || 'now'}`);
  }
  if (isObj(l.poll)) parts.push(esc(describeNextPoll(l.poll as { nextAt?: string; why?: string; failures?: number }, now)));
  const shown = Object.entries(counters)
    .filter(([, v]) => typeof v === 'number')
    .map(([k, v]) => `${esc(k)}=${esc(v)}`)
    .join(' ');
  return [
    `<b>${esc(l.name)}</b>`,
    esc(l.type),
    esc(l.direction),
    `<span class="state ${stateClass(l.state)}">${esc(l.state)}</span>`,
    // A failure the link has since recovered from is history, not an alarm.
    l.lastFailure
      ? l.state === 'up'
        ? `<span class="meta">earlier: ${esc(l.lastFailure)}</span>`
        : `<span class="why">${esc(l.lastFailure)}</span>`
      : '',
    esc(l.restarts ?? 0),
    parts.map((p) => `<div>${p}</div>`).join(''),
    shown ? `<details><summary>${Object.keys(counters).length} counters</summary><code>${shown}</code></details>` : '',
  ];
}

/** Objects of unknown shape (rescues, added by other parts): a table of their fields. */
function genericTable(items: unknown[]): string {
  const objs = items.filter(isObj);
  if (objs.length === 0) return items.length ? `<pre>${esc(JSON.stringify(items, null, 1))}</pre>` : '';
  const keys = [...new Set(objs.flatMap((o) => Object.keys(o)))].slice(0, 12);
  return table(
    keys,
    objs.map((o) => keys.map((k) => (isObj(o[k]) || Array.isArray(o[k]) ? `<code>${esc(JSON.stringify(o[k]))}</code>` : esc(o[k])))),
  );
}

/**
 * Outbox transactions (PendingTxStatus) until they are seen back from the network. One that a far
 * gateway acknowledged over radio (TXACK, tx-acks.ts) is shown as relayed: its node took it, so
 * radio resends have stopped, while the watch for it goes on.
 */
function pendingTable(items: unknown[], now: number): string {
  const txs = items.filter(isObj);
  return table(
    ['transaction', 'size', 'added', 'state', 'sends', 'next send', 'expires'],
    txs.map((t) => {
      const relayed = typeof t.relayedAt === 'string';
      const state = relayed
        ? `<span class="state ok">relayed</span> via ${esc(t.relayedVia)} ${esc(ago(t.relayedAt, now))}` +
          `<br><span class="meta">acknowledged over radio: a far gateway's node took it; no more radio resends, still watching for it</span>`
        : `<span class="state warn">sending</span>`;
      const links = Array.isArray(t.lastLinks) && t.lastLinks.length ? ` on ${t.lastLinks.join(', ')}` : '';
      const last = typeof t.lastSentAt === 'string' ? `, last ${ago(t.lastSentAt, now)}${links}` : '';
      return [
        short(t.txid),
        `${esc(t.vsize)} vB`,
        esc(ago(t.addedAt, now)),
        state,
        esc(`${t.attempts ?? 0}${last}`),
        esc(ago(t.nextAttemptAt, now)),
        esc(ago(t.expiresAt, now)),
      ];
    }),
  );
}

/** The page's main part for a status object (GatewayStatus, read defensively). Pure. */
export function renderStatusBody(status: Obj, now = Date.now()): string {
  const out: string[] = [];
  const anomalies = Array.isArray(status.anomalies) ? status.anomalies.filter(isObj) : [];
  const node = isObj(status.node) ? status.node : {};
  const chain = isObj(status.chain) ? status.chain : {};
  const links = Array.isArray(status.links) ? status.links.filter(isObj) : [];
  const verdict = anomalies.length
    ? `<div class="verdict bad">${anomalies.length} anomal${anomalies.length === 1 ? 'y' : 'ies'}: ${anomalies.map((a) => esc(a.kind)).join(', ')}</div>`
    : `<div class="verdict ok">no anomalies</div>`;
  out.push(
    `<header><h1>altnet <small>${esc(status.network)} · ${esc(status.mode)} · v${esc(status.version)}</small></h1>${verdict}` +
      `<p class="meta">updated <span id="updated" data-at="${esc(status.updatedAt)}">${esc(status.updatedAt)}</span> · running since ${esc(status.startedAt)}</p></header>`,
  );

  const tip = isObj(node.tip) ? node.tip : undefined;
  const peers = Array.isArray(node.peers) ? node.peers.filter(isObj) : [];
  out.push(
    `<section id="node"><h2>Node</h2><p>${esc(node.connections ?? 0)} connection(s)${tip ? ` · tip ${esc(tip.height)} ${short(tip.hash)}` : ' · tip not known yet'}</p>` +
      table(
        ['peer', 'transport', 'agent'],
        peers.map((p) => [esc(p.id), esc(p.transport), esc(p.agent)]),
      ) +
      (isObj(status.nodeView) ? `<p class="meta">node RPC: <code>${esc(JSON.stringify(status.nodeView))}</code></p>` : '') +
      `</section>`,
  );

  out.push(
    `<section id="chain"><h2>Chain</h2><p>height ${esc(chain.height)} ${short(chain.hash)} · work ${esc(chain.chainWork)}</p>` +
      // How many independent sources back the best chain: it informs, it gates nothing.
      (isObj(status.agreement)
        ? `<p id="agreement" class="${Number(status.agreement.agreeing) >= 2 ? 'ok' : 'meta'}">agreement: ${esc(status.agreement.summary)}</p>`
        : '') +
      progressBar(status.sync) +
      progressBar(status.blockSync) +
      `</section>`,
  );

  out.push(
    `<section id="links"><h2>Links</h2>` +
      (table(
        ['link', 'type', 'dir', 'state', 'last failure', 'restarts', 'radio', 'counters'],
        links.map((l) => renderLink(l, now)),
        'links',
      ) || '<p>no links configured</p>') +
      `</section>`,
  );

  const history = Array.isArray(status.anomalyHistory) ? status.anomalyHistory.filter(isObj) : [];
  out.push(
    `<section id="anomalies"><h2>Anomalies</h2>` +
      (anomalies.length
        ? `<ul class="active">${anomalies.map((a) => `<li><b>${esc(a.kind)}</b> since ${esc(a.since)} (${esc(ago(a.since, now))}): ${esc(a.detail)}</li>`).join('')}</ul>`
        : '<p>none active</p>') +
      (history.length
        ? `<h3>History</h3>` +
          table(
            ['time', 'event', 'anomaly', 'detail'],
            history
              .slice()
              .reverse()
              .map((h) => [
                esc(h.at),
                `<span class="state ${h.event === 'raised' ? 'bad' : 'ok'}">${esc(h.event)}</span>`,
                esc(h.key ?? h.kind),
                esc(h.detail),
              ]),
            'history',
          )
        : '') +
      `</section>`,
  );

  const rescues = Array.isArray(status.rescues) ? status.rescues : isObj(status.rescues) ? [status.rescues] : [];
  // After a failed rescue the next try waits (backoff, rescue.ts); the latest record says until when.
  const retry = isObj(rescues[0]) && typeof rescues[0].nextTryAt === 'string' ? rescues[0] : undefined;
  const retryLine = retry
    ? `<p class="why">rescue failed ${esc(retry.failuresInARow)} time(s) in a row; next try ${esc(ago(retry.nextTryAt, now))} (${esc(retry.nextTryAt)})</p>`
    : '';
  out.push(`<section id="rescues"><h2>Rescues</h2>${retryLine}${genericTable(rescues) || '<p>none</p>'}</section>`);

  const pending = Array.isArray(status.pendingTx) ? status.pendingTx : [];
  out.push(`<section id="pending"><h2>Pending transactions</h2>${pendingTable(pending, now) || '<p>none</p>'}</section>`);
  return out.join('\n');
}

const CSS = `body{font:14px/1.4 system-ui,sans-serif;margin:1em 2em;color:#222;background:#fafafa}
h1{font-size:1.4em;margin:0}h1 small{font-weight:normal;color:#666;font-size:.7em}h2{font-size:1.1em;margin:1.2em 0 .3em;border-bottom:1px solid #ddd}
h3{font-size:1em;margin:.8em 0 .2em}table{border-collapse:collapse;width:100%;margin:.3em 0}th,td{text-align:left;padding:3px 8px;border-bottom:1px solid #e4e4e4;vertical-align:top}
th{background:#f0f0f0}.state{font-weight:600;padding:1px 6px;border-radius:3px}.ok{background:#d9f2d9;color:#1a5e1a}.warn{background:#fff0c2;color:#7a5a00}
.bad{background:#fbd5d5;color:#8a1414}.off{background:#e4e4e4;color:#555}.verdict{display:inline-block;margin:.4em 0;padding:4px 10px;border-radius:4px;font-weight:600}
.why{color:#8a1414}.meta{color:#666;font-size:.9em}code{font-size:.85em;word-break:break-all}ul.active li{margin:.3em 0}
.progress{position:relative;background:#e8e8e8;border-radius:3px;height:1.5em;margin:.3em 0}.progress .bar{background:#8ecf8e;height:100%;border-radius:3px}
.progress span{position:absolute;left:8px;top:2px;font-size:.9em}#stale{display:none;background:#fbd5d5;padding:4px 10px}#stale.shown{display:block}`;

/** The whole page. The script keeps `#main` current; without script, a meta refresh does. */
export function renderStatusPage(status: Obj, refreshSeconds = 2, now = Date.now()): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>altnet status</title>
<meta name="viewport" content="width=device-width,initial-scale=1">
<noscript><meta http-equiv="refresh" content="${Number(refreshSeconds) * 5}"></noscript>
<style>${CSS}</style></head>
<body data-refresh="${Number(refreshSeconds)}">
<div id="stale">altnet is not answering; showing the last status received.</div>
<main id="main">${renderStatusBody(status, now)}</main>
<footer class="meta">read-only · <a href="/status.json">/status.json</a> for programs</footer>
<script src="/status.js"></script>
</body></html>
`;
}

/** Re-fetches the rendered part; marks the page stale while the daemon does not answer. */
export const STATUS_SCRIPT = `'use strict';
(function () {
  var every = Number(document.body.dataset.refresh || 2) * 1000;
  var main = document.getElementById('main');
  var stale = document.getElementById('stale');
  function tick() {
    fetch('/status.fragment', { cache: 'no-store' })
      .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.text(); })
      .then(function (html) {
        // Open <details> stay open across refreshes.
        var open = Array.prototype.map.call(main.querySelectorAll('details[open]'), function (d) { return d.parentNode && d.parentNode.parentNode ? d.parentNode.parentNode.rowIndex : -1; });
        main.innerHTML = html;
        var rows = main.querySelectorAll('table.links tr');
        open.forEach(function (i) { var d = rows[i] && rows[i].querySelector('details'); if (d) d.open = true; });
        stale.className = '';
        var bad = main.querySelector('.verdict.bad');
        document.title = (bad ? '⚠ ' : '') + 'altnet status';
      })
      .catch(function () { stale.className = 'shown'; })
      .finally(function () { setTimeout(tick, every); });
  }
  setTimeout(tick, every);
})();
`;

export interface StatusServerOptions {
  host: string;
  /** 0 picks a free port (tests); the chosen one is returned. */
  port: number;
  log: Logger;
  status: () => Obj;
  /** Serve /metrics too (the metrics listener is shared): returns the exposition text. */
  metrics?: () => { body: string; contentType: string };
  refreshSeconds?: number;
}

export interface StatusServer {
  port: number;
  url: string;
  close(): Promise<void>;
}

const LOOPBACK_NAMES = /^(localhost|127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\])(:\d{1,5})?$/i;

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/** JSON with bigints as decimal strings. */
export function statusJson(status: unknown): string {
  return JSON.stringify(status, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2);
}

/** Serves the status page on a loopback address. Refuses any other address. */
export async function startStatusServer(opts: StatusServerOptions): Promise<StatusServer> {
  if (!isLoopback(opts.host)) {
    throw new ConfigError(
      'status-not-loopback',
      `status address ${opts.host} is not loopback; the status page is served on 127.0.0.1 or ::1 only (reach it through an SSH tunnel)`,
    );
  }
  const { log } = opts;
  const send = (res: ServerResponse, req: IncomingMessage, code: number, type: string, body: string) => {
    res.writeHead(code, { ...SECURITY_HEADERS, 'content-type': type, 'content-length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  const server = createServer((req, res) => {
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('read-only: GET or HEAD\n');
        return;
      }
      const host = req.headers.host ?? '';
      if (!LOOPBACK_NAMES.test(host)) {
        send(res, req, 403, 'text/plain', 'forbidden: open the status page by a loopback address (127.0.0.1, [::1] or localhost)\n');
        return;
      }
      const path = (req.url ?? '/').split('?')[0];
      switch (path) {
        case '/':
        case '/index.html':
          return send(res, req, 200, 'text/html; charset=utf-8', renderStatusPage(opts.status(), opts.refreshSeconds));
        case '/status.fragment':
          return send(res, req, 200, 'text/html; charset=utf-8', renderStatusBody(opts.status()));
        case '/status.json':
          return send(res, req, 200, 'application/json', statusJson(opts.status()) + '\n');
        case '/status.js':
          return send(res, req, 200, 'text/javascript; charset=utf-8', STATUS_SCRIPT);
        case '/metrics': {
          if (!opts.metrics) return send(res, req, 404, 'text/plain', 'not found; metrics are served on their own address (metrics=)\n');
          const m = opts.metrics();
          return send(res, req, 200, m.contentType, m.body);
        }
        default:
          return send(res, req, 404, 'text/plain', 'not found; try / or /status.json\n');
      }
    } catch (err) {
      log.error('status page failed', { error: (err as Error).message });
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' }).end('status unavailable\n');
    }
  });
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  server.maxHeadersCount = 50;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => log.error('status server error', { error: err.message }));
  const port = (server.address() as AddressInfo).port;
  const url = `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}/`;
  log.info('status page listening', { url, metrics: opts.metrics ? `${url}metrics` : undefined });
  return {
    port,
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
