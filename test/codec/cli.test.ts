import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { memoryIO } from '../../src/cli/io.js';
import { run } from '../../src/cli/cmd-codec.js';
import { toHex } from '../../src/util/bytes.js';
import { SHARED_DATA } from '../harness/data.js';

const file = new Uint8Array(readFileSync(SHARED_DATA.recentHeaders));
const at = (i: number) => toHex(file.subarray(i * 80, i * 80 + 80));

describe('altnet codec', () => {
  it('encodes a tip to one 47-byte frame and decodes it back to the real header', async () => {
    const io = memoryIO();
    expect(await run(['encode', 'tip', '--parent', at(7471), '--header', at(7472), '--height', '830000'], io)).toBe(0);
    const frame = io.stdout[0];
    expect(frame.length / 2).toBe(47);
    const io2 = memoryIO();
    expect(await run(['decode', frame, '--parent', at(7471)], io2)).toBe(0);
    const out = JSON.parse(io2.stdout[0]);
    expect(out.type).toBe('TIP');
    expect(out.body.height).toBe(830000);
    expect(out.body.header).toBe(at(7472));
    expect(out.body.hash).toBe('000000000000000000011d55599ed27d7efca05f5849b755319c89eb2cffbc1f');
  });

  it('fragments a header batch and reassembles it from the frames given together', async () => {
    const io = memoryIO();
    const headers = [1, 2, 3, 4, 5, 6].map(at);
    expect(await run(['encode', 'headers', '--parent', at(0), '--parent-height', '822528', '--mtu', '64', ...headers], io)).toBe(0);
    expect(io.stdout.length).toBeGreaterThan(4);
    const io2 = memoryIO();
    expect(await run(['decode', ...io.stdout, '--parent', at(0)], io2)).toBe(0);
    const done = io2.stdout.map((l) => JSON.parse(l)).find((o) => o.reassembled);
    expect(done.reassembled).toBe('HEADERS');
    expect(done.body.headers.map((h: { raw: string }) => h.raw)).toEqual(headers);
  });

  it('reports a corrupt frame with its error code and exit status 1', async () => {
    const io = memoryIO();
    expect(await run(['decode', '2470adb2'], io)).toBe(1);
    expect(JSON.parse(io.stdout[0]).error).toBe('frame-crc');
  });

  it('rejects bad flags with exit status 2', async () => {
    const io = memoryIO();
    expect(await run(['encode', 'tx', 'zz'], io)).toBe(2);
    expect(await run(['encode', 'tx', '00', '--integrity', 'md5'], io)).toBe(2);
    expect(io.stderr.join('\n')).toMatch(/--integrity must be/);
  });

  it('prints stream and tip statistics over the shared file', async () => {
    const io = memoryIO({ ALTNET_SHARED_DATA: SHARED_DATA.dir });
    expect(await run(['stats', '--json'], io)).toBe(0);
    const s = JSON.parse(io.stdout.join('\n'));
    expect(s.headers).toBe(8064);
    expect(s.stream.roundTrip).toBe(true);
    expect(s.stream.bytesPerHeader).toBeLessThanOrEqual(39.5);
    expect(s.tipFrameCrc16.maxBytes).toBeLessThanOrEqual(51);
  });
});
