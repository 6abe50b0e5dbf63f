import { describe, expect, it, vi } from 'vitest';
import { readFileSync } from 'node:fs';
import { Block } from 'bitcoinjs-lib';
import { create, createEsploraLink } from '../../../src/links/esplora/esplora.js';
import { ConfigError } from '../../../src/util/errors.js';
import { toHex } from '../../../src/util/bytes.js';
import { SHARED_DATA } from '../../harness/data.js';
import { servedChain } from '../../servers/chain.js';
import { compareRuns, manualTimers, recordingContext } from '../../servers/context.js';
import { startEsploraServer, type EsploraLie, type EsploraServer } from '../../servers/esplora-server.js';
import { certForSuite } from '../../servers/tls.js';
import { expectTimedOutNotMarked, itCatchesEachLie, lifecycle } from '../../servers/lifecycle.js';

const chain = servedChain();
const cert = certForSuite();
const { track, serve } = lifecycle();
const server = (opts: Parameters<typeof startEsploraServer>[0] = {}): Promise<EsploraServer> => serve(startEsploraServer(opts));

describe('esplora link', () => {
  it('fetches real headers after the checkpoint over HTTP, continues from its own last header, and reports the tip', async () => {
    const s = await server();
    const rec = recordingContext();
    const link = track(create({ name: 'e1', type: 'esplora', url: s.url, rate: '0', maxheaders: '40' }, rec.ctx));
    await link.start();
    await link.requestHeaders!([chain.parentHash]);
    expect(compareRuns(rec.all(), chain.headers.slice(0, 40))).toBe('same');
    expect(rec.tips.at(-1)?.height).toBe(chain.last);
    expect(rec.tips.at(-1)?.hash).toEqual(chain.hashes.at(-1));

    // A locator that starts with a hash the link has never seen but the server knows (via /status).
    await link.requestHeaders!([chain.hashes[99], chain.hashes[39], chain.parentHash]);
    expect(compareRuns(rec.batches[1], chain.headers.slice(100, 140))).toBe('same');
    expect(rec.counters.get('lies')).toBe(0);
    expect(rec.states.map((s) => s.state)).toEqual(['starting', 'up']);
  });

  it('delivers nothing beyond the tip and reports the tip when the requester is already there', async () => {
    const s = await server({ tipHeight: chain.first + 5 });
    const rec = recordingContext();
    const link = track(create({ name: 'e1', url: s.url, rate: '0' }, rec.ctx));
    await link.start();
    await link.requestHeaders!([chain.parentHash]);
    expect(compareRuns(rec.all(), chain.headers.slice(0, 6))).toBe('same');
    await link.requestHeaders!([chain.hashes[5]]);
    expect(rec.batches).toHaveLength(1);
    expect(rec.tips.at(-1)).toEqual({ height: chain.first + 5, hash: chain.hashes[5] });
  });

  it('polls on its own for headers after the last one it delivered', async () => {
    const s = await server({ tipHeight: chain.first + 5 });
    const rec = recordingContext();
    const timers = manualTimers();
    const link = track(createEsploraLink({ name: 'poller', url: s.url, ratePerSecond: 0, pollMs: 60_000, timers }, rec.ctx));
    await link.start();
    await link.requestHeaders([chain.parentHash]);
    expect(rec.all()).toHaveLength(6);
    s.tipHeight = chain.first + 8;
    expect(timers.fire((ms) => ms === 60_000)).toBe(1);
    await vi.waitFor(() => expect(rec.all()).toHaveLength(9));
    expect(compareRuns(rec.all(), chain.headers.slice(0, 9))).toBe('same');
    expect(rec.tips.at(-1)?.height).toBe(chain.first + 8);
    await vi.waitFor(() => expect(timers.pending()).toContain(60_000));
  });

  it('talks HTTPS to a server with a self-signed certificate when given it as ca', async () => {
    const s = await server({ tls: { cert: cert().cert, key: cert().key } });
    const rec = recordingContext();
    const link = track(create({ name: 'e2', url: s.url, ca: cert().certPath, rate: '0', maxheaders: '10' }, rec.ctx));
    await link.start();
    await link.requestHeaders!([chain.parentHash]);
    expect(compareRuns(rec.all(), chain.headers.slice(0, 10))).toBe('same');
  });

  it('refuses an HTTPS server it was not told to trust: counted, not marked, no headers', async () => {
    const s = await server({ tls: { cert: cert().cert, key: cert().key } });
    const rec = recordingContext();
    const link = track(create({ name: 'e3', url: s.url, rate: '0' }, rec.ctx));
    await link.start();
    await link.requestHeaders!([chain.parentHash]);
    expect(rec.all()).toHaveLength(0);
    expect(rec.counters.get('failures')).toBe(1);
    expect(rec.counters.get('lies')).toBe(0);
  });

  const lies: Array<[EsploraLie, string]> = [
    ['bad-pow', 'lie.bad-pow'],
    ['disconnected', 'lie.disconnected'],
    ['wrong-header', 'lie.wrong-header-for-hash'],
    ['false-tip', 'lie.tip-not-backed'],
  ];
  itCatchesEachLie('server', lies, [chain.parentHash], async (lie) => {
    const s = await server({ lie });
    const rec = recordingContext();
    const link = track(create({ name: 'liar', url: s.url, rate: '0', maxheaders: '30' }, rec.ctx));
    return { link, rec, asked: () => s.requests.length };
  });

  it('does not call a reorganisation during a request a lie: counted, then the next request succeeds', async () => {
    const s = await server({ lie: 'disconnected', reorgAfterLie: true });
    const rec = recordingContext();
    const link = track(create({ name: 'moving', url: s.url, rate: '0', maxheaders: '30' }, rec.ctx));
    await link.start();
    await link.requestHeaders!([chain.parentHash]);
    expect(rec.counters.get('reorg.during-request')).toBe(1);
    expect(rec.counters.get('lies')).toBe(0);
    expect(rec.all()).toHaveLength(0);
    await link.requestHeaders!([chain.parentHash]);
    expect(compareRuns(rec.all(), chain.headers.slice(0, 30))).toBe('same');
  });

  it('counts a stalled server as a timeout without marking it, and recovers when it answers again', async () => {
    const s = await server({ stall: true });
    const rec = recordingContext();
    const timers = manualTimers();
    const link = track(createEsploraLink({ name: 'slow', url: s.url, timeoutMs: 7_000, ratePerSecond: 0, timers }, rec.ctx));
    await link.start();
    const asked = s.nextRequest();
    const done = link.requestHeaders([chain.parentHash]);
    await asked;
    await expectTimedOutNotMarked(timers, 7_000, done, link, rec);
    expect(rec.all()).toHaveLength(0);
  });

  it('broadcasts a real transaction with POST /tx and checks the txid it answers', async () => {
    const s = await server();
    const rec = recordingContext();
    const link = track(create({ name: 'e4', url: s.url, rate: '0' }, rec.ctx));
    const block = Block.fromBuffer(readFileSync(SHARED_DATA.block830000));
    const tx = block.transactions![1].toBuffer();
    await link.sendTx!(new Uint8Array(tx));
    expect(s.txs).toEqual([toHex(tx)]);
    await expect(link.sendTx!(new Uint8Array([1, 2, 3]))).rejects.toMatchObject({ code: 'tx-malformed' });
  });

  it('validates its configuration with clear errors', () => {
    const { ctx } = recordingContext();
    expect(() => create({ name: 'x', type: 'esplora' }, ctx)).toThrow(/link\.x\.url is required/);
    expect(() => create({ name: 'x', url: 'ftp://h/api' }, ctx)).toThrow(ConfigError);
    expect(() => create({ name: 'x', url: 'ftp://h/api' }, ctx)).toThrow(/url=ftp:\/\/h\/api: expected an http:\/\/ or https:\/\/ URL/);
    expect(() => create({ name: 'x', url: 'not a url' }, ctx)).toThrow(/not a URL; expected an http:\/\/ or https:\/\/ URL/);
    expect(() => create({ name: 'x', url: 'http://h/api', ca: '/nonexistent.pem' }, ctx)).toThrow(/only meaningful with an https/);
    expect(() => create({ name: 'x', url: 'https://h/api', ca: '/nonexistent.pem' }, ctx)).toThrow(/cannot read/);
    expect(() => create({ name: 'x', url: 'https://h/api', timout: '5' }, ctx)).toThrow(/unknown option/);
    expect(() => create({ name: 'x', url: 'https://h/api', rate: 'fast' }, ctx)).toThrow(/whole number/);
    expect(create({ name: 'x', url: 'https://h/api' }, ctx).capabilities.carries).toEqual(['headers', 'tx', 'blocks']);
    expect(create({ name: 'x', url: 'https://h/api', headers: '0' }, ctx).capabilities.carries).toEqual(['tx', 'blocks']);
    expect(() => create({ name: 'x', url: 'https://h/api', headers: 'maybe' }, ctx)).toThrow(/headers=maybe/);
  });
});

describe('esplora link: honest state', () => {
  it('is down with the reason, never up, while its server refuses connections', async () => {
    const probe = await server();
    const url = probe.url;
    await probe.close();
    const rec = recordingContext();
    const link = track(create({ name: 'gone', url, rate: '0', poll: '0' }, rec.ctx));
    await link.start();
    expect(rec.states.map((s) => s.state)).toEqual(['starting']);
    await link.requestHeaders!([chain.parentHash]);
    expect(rec.states.map((s) => s.state)).toEqual(['starting', 'down']);
    expect(rec.states.at(-1)?.reason).toMatch(/headers request failed: .*(ECONNREFUSED|refused|fetch failed)/i);
  });
});
