// The strict parser of what a driver child says: the main process's first line of defence.
import { describe, expect, it } from 'vitest';
import { frameMessage, IpcDecoder, parseChildMessage, parseParentMessage } from '../../src/gateway/ipc.js';
import { MalformedInputError } from '../../src/util/errors.js';
import { create as createEsplora } from '../../src/links/esplora/esplora.js';
import { NETWORKS } from '../../src/chain/networks.js';
import { Counters } from '../../src/util/counters.js';
import { silentLogger } from '../../src/util/log.js';

const caps = { direction: 'rx', mtu: 1000, bitrate: 1e6, dutyCycle: 1, carries: ['headers'], needsCallsign: false };

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(MalformedInputError);
    return (err as MalformedInputError).code;
  }
  return undefined;
}

describe('driver IPC', () => {
  it('round-trips a framed message, bytes as hex and bigints as 0x-hex', () => {
    const d = new IpcDecoder();
    const h = new Uint8Array(32).fill(0xab);
    const [raw] = d.push(frameMessage({ t: 'tip', height: 5, hash: h, chainWork: 0x1234n }));
    expect(parseChildMessage(raw)).toEqual({ t: 'tip', height: 5, hash: h, chainWork: 0x1234n });
  });

  it('reassembles messages split across chunks, and several in one chunk', () => {
    const a = frameMessage({ t: 'state', state: 'up' });
    const b = frameMessage({ t: 'log', level: 'info', msg: 'hello' });
    const all = new Uint8Array([...a, ...b]);
    const d = new IpcDecoder();
    expect(d.push(all.subarray(0, 3))).toEqual([]);
    expect(d.push(all.subarray(3)).map(parseChildMessage)).toEqual([
      { t: 'state', state: 'up', reason: undefined },
      { t: 'log', level: 'info', msg: 'hello' },
    ]);
  });

  it('refuses a length over the bound before buffering the body', () => {
    const d = new IpcDecoder(1000);
    expect(code(() => d.push(Uint8Array.of(0xe9, 0x03, 0, 0)))).toBe('ipc-oversize');
  });

  it('takes declared rate limits and rejects nonsense capabilities', () => {
    expect(parseChildMessage({ t: 'hello', caps: { ...caps, requestsPerSecond: 10, burst: 20 } })).toEqual({
      t: 'hello',
      caps: { ...caps, requestsPerSecond: 10, burst: 20 },
    });
    expect(code(() => parseChildMessage({ t: 'hello', caps: { ...caps, requestsPerSecond: -1 } }))).toBe('ipc-bad-message');
    expect(code(() => parseChildMessage({ t: 'hello', caps: { ...caps, direction: 'sideways' } }))).toBe('ipc-bad-message');
    expect(code(() => parseChildMessage({ t: 'hello', caps: { ...caps, carries: ['gold'] } }))).toBe('ipc-bad-message');
  });

  it('rejects wrong-sized headers, too many headers, bad hex and unknown types', () => {
    const h = 'ab'.repeat(80);
    expect(code(() => parseChildMessage({ t: 'headers', headers: ['ab'.repeat(79)] }))).toBe('ipc-bad-message');
    expect(code(() => parseChildMessage({ t: 'headers', headers: Array(2001).fill(h) }))).toBe('ipc-bad-message');
    expect(code(() => parseChildMessage({ t: 'headers', headers: [] }))).toBe('ipc-bad-message');
    expect(code(() => parseChildMessage({ t: 'tx', raw: 'zz' }))).toBe('ipc-bad-message');
    expect(code(() => parseChildMessage({ t: 'tip', height: 1.5 }))).toBe('ipc-bad-message');
    expect(code(() => parseChildMessage({ t: 'counters', values: { 'bad name!': 1 } }))).toBe('ipc-bad-message');
    expect(code(() => parseChildMessage({ t: 'shell', cmd: 'rm -rf /' }))).toBe('ipc-bad-message');
    expect(code(() => parseChildMessage([1, 2]))).toBe('ipc-bad-message');
    expect(parseChildMessage({ t: 'headers', headers: [h] })).toEqual({ t: 'headers', headers: [new Uint8Array(80).fill(0xab)] });
  });

  it('an internet link declares the rate limit it was configured with', () => {
    const ctx = { log: silentLogger(), counters: new Counters(), network: NETWORKS.main, events: { headers() {}, tx() {}, state() {} } };
    const link = createEsplora({ name: 'e', url: 'http://127.0.0.1:1/api', rate: '5', burst: '7' }, ctx);
    expect(link.capabilities).toMatchObject({ requestsPerSecond: 5, burst: 7 });
    // What the driver declares survives the trip to the main process.
    const [raw] = new IpcDecoder().push(frameMessage({ t: 'hello', caps: link.capabilities }));
    expect(parseChildMessage(raw)).toMatchObject({ caps: { requestsPerSecond: 5, burst: 7 } });
  });

  it('parses the parent side strictly too', () => {
    expect(parseParentMessage({ t: 'stop' })).toEqual({ t: 'stop' });
    expect(code(() => parseParentMessage({ t: 'send-headers', parentHeight: 1, parent: 'ab', headers: [] }))).toBe('ipc-bad-message');
  });
});
