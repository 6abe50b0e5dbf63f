// The strict parser of what a driver child says (CBOR framing, field-by-field validation):
// the main process's first line of defence.
import { describe, expect, it } from 'vitest';
import { frameMessage, IpcDecoder, parseChildMessage, parseParentMessage, type ParentMessage } from '../../src/gateway/ipc.js';
import { equalBytes } from '../../src/util/bytes.js';
import { MalformedInputError } from '../../src/util/errors.js';
import { create as createEsplora } from '../../src/links/esplora/esplora.js';
import { NETWORKS } from '../../src/chain/networks.js';
import { Counters } from '../../src/util/counters.js';
import { silentLogger } from '../../src/util/log.js';
import { thrownBy } from '../helpers/errors.js';

const caps = { direction: 'rx', mtu: 1000, bitrate: 1e6, dutyCycle: 1, carries: ['headers'], needsCallsign: false };

const code = (fn: () => unknown) => thrownBy(fn, MalformedInputError).code;

describe('driver IPC', () => {
  it('round-trips a framed message, bytes as CBOR byte strings and chain work as 32 bytes', () => {
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

  it('rejects wrong-sized headers, too many headers, hex instead of bytes and unknown types', () => {
    const h = new Uint8Array(80).fill(0xab);
    expect(code(() => parseChildMessage({ t: 'headers', headers: [new Uint8Array(79)] }))).toBe('ipc-bad-message');
    expect(code(() => parseChildMessage({ t: 'headers', headers: Array(2001).fill(h) }))).toBe('ipc-bad-message');
    expect(code(() => parseChildMessage({ t: 'headers', headers: [] }))).toBe('ipc-bad-message');
    expect(code(() => parseChildMessage({ t: 'headers', headers: h }))).toBe('ipc-bad-message');
    expect(code(() => parseChildMessage({ t: 'headers', headers: ['ab'.repeat(80)] }))).toBe('ipc-bad-message');
    expect(code(() => parseChildMessage({ t: 'tx', raw: 'ab' }))).toBe('ipc-bad-message');
    expect(code(() => parseChildMessage({ t: 'block', raw: new Uint8Array(4_000_001) }))).toBe('ipc-bad-message');
    expect(code(() => parseChildMessage({ t: 'tip', height: 1, chainWork: new Uint8Array(33) }))).toBe('ipc-bad-message');
    expect(code(() => parseChildMessage({ t: 'tip', height: 1.5 }))).toBe('ipc-bad-message');
    expect(code(() => parseChildMessage({ t: 'counters', values: { 'bad name!': 1 } }))).toBe('ipc-bad-message');
    expect(code(() => parseChildMessage({ t: 'shell', cmd: 'rm -rf /' }))).toBe('ipc-bad-message');
    expect(code(() => parseChildMessage([1, 2]))).toBe('ipc-bad-message');
    expect(parseChildMessage({ t: 'headers', headers: [h] })).toEqual({ t: 'headers', headers: [h] });
    // What a driver frames with a wrong-sized header reaches the parent, which refuses it.
    const framed = frameMessage({ t: 'headers', headers: [h, new Uint8Array(79)] });
    expect(code(() => parseChildMessage(new IpcDecoder().push(framed)[0]))).toBe('ipc-bad-message');
  });

  it('an internet link declares the rate limit it was configured with', () => {
    const ctx = { log: silentLogger(), counters: new Counters(), network: NETWORKS.main, events: { headers() {}, tx() {}, state() {} } };
    // rate is per minute: 300 a minute is 5 a second.
    const link = createEsplora({ name: 'e', url: 'http://127.0.0.1:1/api', rate: '300', burst: '7' }, ctx);
    expect(link.capabilities).toMatchObject({ requestsPerSecond: 5, burst: 7 });
    // What the driver declares survives the trip to the main process.
    const [raw] = new IpcDecoder().push(frameMessage({ t: 'hello', caps: link.capabilities }));
    expect(parseChildMessage(raw)).toMatchObject({ caps: { requestsPerSecond: 5, burst: 7 } });
  });

  it('parses the parent side strictly too', () => {
    expect(parseParentMessage({ t: 'stop' })).toEqual({ t: 'stop' });
    expect(code(() => parseParentMessage({ t: 'send-headers', parentHeight: 1, parent: new Uint8Array(2), headers: [] }))).toBe(
      'ipc-bad-message',
    );
    const parent = new Uint8Array(80).fill(1);
    const headers = [new Uint8Array(80).fill(2), new Uint8Array(80).fill(3)];
    const locator = [new Uint8Array(32).fill(4)];
    const d = new IpcDecoder();
    const msgs: ParentMessage[] = [
      { t: 'send-headers', parentHeight: 7, parent, headers },
      { t: 'set-context', fromHeight: 8, headers },
      { t: 'request-headers', locator },
      { t: 'send-tx', raw: Uint8Array.of(1, 2, 3) },
      { t: 'start', name: 'a', type: 'sim', options: { x: 'y' }, network: 'regtest' },
    ];
    for (const m of msgs) expect(parseParentMessage(d.push(frameMessage(m))[0])).toEqual(m);
  });

  it('moves a 4 MB block in small chunks, linear: one body buffer, the block a view of it', () => {
    const raw = new Uint8Array(4_000_000);
    for (let i = 0; i < raw.length; i += 997) raw[i] = i & 0xff;
    const framed = frameMessage({ t: 'block', hash: new Uint8Array(32).fill(7), raw });
    expect(framed.length).toBeLessThan(raw.length + 80);
    const d = new IpcDecoder();
    const got: unknown[] = [];
    for (let o = 0; o < framed.length; o += 65536) {
      got.push(...d.push(framed.subarray(o, o + 65536)));
      if (o + 65536 < framed.length) expect(d.buffered).toBe(o + 65536);
    }
    expect(got).toHaveLength(1);
    const msg = parseChildMessage(got[0]);
    expect(msg.t).toBe('block');
    const block = (msg as { raw: Uint8Array }).raw;
    expect(block).toBeInstanceOf(Uint8Array);
    expect(equalBytes(block, raw)).toBe(true);
    expect(block.buffer.byteLength).toBeLessThan(raw.length + 80);
    expect(d.buffered).toBe(0);
  });

  it('carries 2000 headers in about 160 kB, not 326 kB of JSON hex', () => {
    const headers = Array.from({ length: 2000 }, (_, i) => new Uint8Array(80).fill(i & 0xff));
    const framed = frameMessage({ t: 'headers', headers });
    expect(framed.length).toBeLessThan(2000 * 82 + 32);
    expect(parseChildMessage(new IpcDecoder().push(framed)[0])).toEqual({ t: 'headers', headers });
  });

  it('refuses CBOR tags, indefinite lengths, deep nesting, trailing bytes and truncation before cbor-x sees them', () => {
    const body = (bytes: number[]) => {
      const out = new Uint8Array(4 + bytes.length);
      new DataView(out.buffer).setUint32(0, bytes.length, true);
      out.set(bytes, 4);
      return out;
    };
    // tag 28 (shareable value) around an empty map; tag 2 (bignum); tag 64 (typed array)
    expect(code(() => new IpcDecoder().push(body([0xd8, 0x1c, 0xa0])))).toBe('ipc-bad-cbor');
    expect(code(() => new IpcDecoder().push(body([0xc2, 0x41, 0x01])))).toBe('ipc-bad-cbor');
    expect(code(() => new IpcDecoder().push(body([0xd8, 0x40, 0x41, 0x01])))).toBe('ipc-bad-cbor');
    // indefinite-length map
    expect(code(() => new IpcDecoder().push(body([0xbf, 0xff])))).toBe('ipc-bad-cbor');
    // arrays nested 6 deep; an array of 2001 entries
    expect(code(() => new IpcDecoder().push(body([0x99, 0x07, 0xd1, ...Array(2001).fill(0)])))).toBe('ipc-bad-cbor');
    expect(code(() => new IpcDecoder().push(body([0x81, 0x81, 0x81, 0x81, 0x81, 0x80])))).toBe('ipc-bad-cbor');
    // two items in one message
    expect(code(() => new IpcDecoder().push(body([0xa0, 0xa0])))).toBe('ipc-bad-cbor');
    // a byte string longer than the message; an array claiming 2^32 entries
    expect(code(() => new IpcDecoder().push(body([0x5a, 0xff, 0xff, 0xff, 0xff, 0x00])))).toBe('ipc-bad-cbor');
    expect(code(() => new IpcDecoder().push(body([0x9a, 0xff, 0xff, 0xff, 0xff])))).toBe('ipc-bad-cbor');
    expect(code(() => new IpcDecoder().push(body([])))).toBe('ipc-bad-cbor');
    // The same map without the tag is accepted, and decodes to a plain object.
    expect(new IpcDecoder().push(body([0xa1, 0x61, 0x74, 0x61, 0x78]))).toEqual([{ t: 'x' }]);
  });
});
