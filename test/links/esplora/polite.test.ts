// Public Esplora servers sit behind CDNs that answer with HTTP 429 or an HTML captcha page:
// those make the source unavailable (asked again later), never a liar.
import { describe, expect, it, vi } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { create, createEsploraLink, parseRetryAfter } from '../../../src/links/esplora/esplora.js';
import { PROMPT_BURST } from '../../../src/links/source/polite.js';
import { servedChain } from '../../servers/chain.js';
import { manualTimers, recordingContext } from '../../servers/context.js';
import { startEsploraServer } from '../../servers/esplora-server.js';
import { lifecycle } from '../../servers/lifecycle.js';

const chain = servedChain();
const { track, serve } = lifecycle();

/** A local HTTP server that answers every request alike; its Esplora base URL. */
async function answering(status: number, body: string, type: string, headers: Record<string, string> = {}): Promise<string> {
  const s = http.createServer((_req, res) => {
    res.writeHead(status, { 'content-type': type, ...headers });
    res.end(body);
  });
  await serve(Promise.resolve({ close: () => new Promise<void>((r) => s.close(() => r())) }));
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}/api`;
}

/** A local Esplora server with the real chain up to first + 5; `down` answers 503. */
async function esplora(down = false) {
  const s = await serve(startEsploraServer({ tipHeight: chain.first + 5 }));
  s.down = down;
  return s;
}

/** An esplora link to `url` that polls every `pollMs` on manual timers, with its recorder. */
function pollingLink(name: string, url: string, pollMs: number, random: () => number, pollJitter?: number) {
  const timers = manualTimers();
  const rec = recordingContext();
  const link = track(createEsploraLink({ name, url, ratePerSecond: 0, pollMs, pollJitter, timers, random }, rec.ctx));
  return { link, rec, timers };
}

describe('esplora: rate limits and captcha pages are "unavailable", not lies', () => {
  for (const [what, status, body, type, reason] of [
    ['HTTP 429', 429, 'Too Many Requests', 'text/plain', /HTTP 429, the server asks us to slow down/],
    [
      'a 200 HTML captcha page',
      200,
      '<!DOCTYPE html><html><body>Checking your browser…</body></html>',
      'text/html',
      /an HTML page where data was expected/,
    ],
  ] as const) {
    it(what, async () => {
      const url = await answering(status, body, type);
      const rec = recordingContext();
      const link = track(create({ name: 'cdn', type: 'esplora', url, rate: '0', poll: '0' }, rec.ctx));
      await link.start();
      await link.requestHeaders!([chain.parentHash]).catch(() => {});
      expect(rec.counters.get('lies')).toBe(0);
      expect(rec.all()).toHaveLength(0);
      expect(rec.log.lines.join('\n')).toMatch(reason);
      expect(rec.log.lines.join('\n')).not.toMatch(/source lied/);
    });
  }
});

describe('esplora: polls at spread times', () => {
  it('pollJitter 0.5 puts each poll between 0.75 and 1.25 of the interval, as random() says', async () => {
    const url = await answering(503, 'down', 'text/plain');
    for (const [r, want] of [
      [0, 45_000],
      [0.5, 60_000],
      [0.999, 74_970],
    ] as const) {
      const { link, timers } = pollingLink('j', url, 60_000, () => r, 0.5);
      await link.start();
      expect(timers.pending()).toContain(want);
    }
  });
});

describe('esplora: polite polling (source/polite.ts) against a local server', () => {
  /** random() answers from a script (the last value repeats). */
  function scripted(...rs: number[]): () => number {
    let i = 0;
    return () => rs[Math.min(i++, rs.length - 1)];
  }

  it('after a block another link brought, polls within the 150 s block delay, not at once; not for a block it brought itself', async () => {
    const s = await esplora();
    // random(): start's interval jitter, the answer's, then the block delay (0.4 of 150 s).
    const { link, rec, timers } = pollingLink('b', s.url, 120_000, scripted(0.5, 0.5, 0.4));
    await link.start();
    await link.requestHeaders([chain.parentHash]);
    expect(rec.all()).toHaveLength(6);
    expect(timers.pending()).toEqual([120_000]);
    // The gateway's chain as it was: nothing new.
    link.setContext(chain.first, chain.headers.slice(0, 6));
    // A block this link delivered itself is no news to it.
    link.setContext(chain.first, chain.headers.slice(0, 6));
    expect(timers.pending()).toEqual([120_000]);
    // Another link brought height first+6: the next poll is 0.4 x 150 s away, not now.
    const asked = s.requests.length;
    link.setContext(chain.first, chain.headers.slice(0, 7));
    expect(timers.pending()).toEqual([60_000]);
    expect(s.requests.length).toBe(asked);
    expect(rec.counters.get('polls.after-block')).toBe(1);
    expect(rec.counters.get('poll.why')).toBe(2);
    expect(rec.counters.get('poll.next_at_ms')).toBe(60_000);
  });

  it('backs off with full jitter while the server is down, one log line for it; an answer resets it', async () => {
    const s = await esplora(true);
    const { link, rec, timers } = pollingLink('d', s.url, 60_000, scripted(0.75));
    await link.start();
    expect(timers.pending()).toEqual([45_000 + 15_000]); // jitter 0 here: exactly the interval
    const windows = [60_000, 120_000, 240_000, 480_000];
    await link.requestHeaders([chain.parentHash]);
    for (const [i, w] of windows.entries()) {
      // 0.75 of the window (1, 2, 4, 8 min): 45 s, 90 s, 180 s, 360 s
      await vi.waitFor(() => expect(timers.pending()).toEqual([0.75 * w]));
      expect(rec.counters.get('poll.why')).toBe(3);
      expect(rec.counters.get('poll.failures')).toBe(i + 1);
      if (i < windows.length - 1) expect(timers.fire()).toBe(1);
    }
    const log = rec.log.lines.join('\n');
    expect(log.match(/backing off/g)).toHaveLength(1);
    // One warning for the outage; the repeats are debug lines (counted all the same).
    expect(rec.log.lines.filter((l) => / WARN  .*failed/.test(l))).toHaveLength(2);
    expect(rec.log.lines.filter((l) => / DEBUG .*poll failed/.test(l))).toHaveLength(3);
    expect(rec.counters.get('failures')).toBe(4);
    // The server is back: the next poll gets an answer (its tip), the backoff is over.
    s.down = false;
    expect(timers.fire()).toBe(1);
    await vi.waitFor(() => expect(rec.tips.at(-1)?.height).toBe(chain.first + 5));
    await vi.waitFor(() => expect(timers.pending()).toEqual([60_000]));
    expect(rec.counters.get('poll.failures')).toBe(0);
    expect(rec.log.lines.join('\n')).toMatch(/source answers again; backoff over/);
  });

  it('while backing off, a storm of gateway requests (anycasts) reaches the server only PROMPT_BURST times; the rest wait for the backoff poll', async () => {
    const s = await esplora(true);
    const { link, rec, timers } = pollingLink('a', s.url, 60_000, scripted(0.5));
    await link.start();
    await link.requestHeaders([chain.parentHash]); // fails: backing off from here
    const tipAsks = () => s.requests.filter((r) => r.endsWith('/blocks/tip/height')).length;
    expect(tipAsks()).toBe(1);
    for (let i = 0; i < 20; i++) await link.requestHeaders([chain.parentHash]);
    expect(tipAsks()).toBe(1 + PROMPT_BURST);
    expect(rec.counters.get('requests.deferred')).toBe(20 - PROMPT_BURST);
    // The backoff poll asks once, with the waiting request's locator, and delivers.
    s.down = false;
    expect(timers.fire()).toBe(1);
    await vi.waitFor(() => expect(rec.all()).toHaveLength(6));
    expect(tipAsks()).toBe(2 + PROMPT_BURST);
  });
});

describe('esplora: Retry-After', () => {
  it('parses delay-seconds and HTTP-dates, refuses anything else, caps at a day', async () => {
    const now = Date.parse('2026-11-30T12:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Mon, 30 Nov 2026 12:05:00 GMT', now)).toBe(300_000);
    expect(parseRetryAfter('Mon, 30 Nov 2026 11:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('9999999999', now)).toBe(86_400_000);
    for (const bad of [undefined, '', 'soon', '-5', '1.5', '2026-11-30']) expect(parseRetryAfter(bad, now)).toBeUndefined();
  });

  it('a 429 with Retry-After: 600 puts the next poll 10 min away, though the backoff drew less', async () => {
    const url = await answering(429, 'Too Many Requests', 'text/plain', { 'retry-after': '600' });
    const { link, rec, timers } = pollingLink('r', url, 60_000, () => 0.5);
    await link.start();
    await link.requestHeaders([chain.parentHash]);
    // The backoff alone would be 0.5 x 1 min = 30 s.
    await vi.waitFor(() => expect(timers.pending()).toEqual([600_000]));
    expect(rec.log.lines.join('\n')).toMatch(/HTTP 429, the server asks us to slow down \(Retry-After 600 s\)/);
    expect(rec.counters.get('lies')).toBe(0);
  });
});
