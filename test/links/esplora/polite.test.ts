// Public Esplora servers sit behind CDNs that answer with HTTP 429 or an HTML captcha page:
// those make the source unavailable (asked again later), never a liar.
import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { create } from '../../../src/links/esplora/esplora.js';
import { servedChain } from '../../servers/chain.js';
import { recordingContext } from '../../servers/context.js';
import { lifecycle } from '../../servers/lifecycle.js';

const chain = servedChain();
const { track } = lifecycle();
const servers: http.Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

async function answering(status: number, body: string, type: string): Promise<string> {
  const s = http.createServer((_req, res) => {
    res.writeHead(status, { 'content-type': type });
    res.end(body);
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}/api`;
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
    const { createEsploraLink } = await import('../../../src/links/esplora/esplora.js');
    const { manualTimers } = await import('../../servers/context.js');
    const url = await answering(503, 'down', 'text/plain');
    for (const [r, want] of [
      [0, 45_000],
      [0.5, 60_000],
      [0.999, 74_970],
    ] as const) {
      const timers = manualTimers();
      const rec = recordingContext();
      const link = track(
        createEsploraLink({ name: 'j', url, ratePerSecond: 0, pollMs: 60_000, pollJitter: 0.5, timers, random: () => r }, rec.ctx),
      );
      await link.start();
      expect(timers.pending()).toContain(want);
    }
  });
});
