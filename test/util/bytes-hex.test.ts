// util/bytes.ts hex parsing: whole bytes of hex digits only, and no regular expression run on the
// input (V8 would keep the last such string alive: RegExp.input; issue 18).
import { describe, expect, it } from 'vitest';
import { fromHex, parseHex } from '../../src/util/bytes.js';

describe('parseHex / fromHex', () => {
  it('decodes whole bytes of hex digits in either case', () => {
    expect([...parseHex('00ff0A0b')!]).toEqual([0, 255, 10, 11]);
    expect(parseHex('')!.length).toBe(0);
    expect(fromHex('c0de')).toEqual(Uint8Array.of(0xc0, 0xde));
  });

  it('refuses odd lengths, non-hex characters anywhere and non-ASCII look-alikes', () => {
    for (const bad of ['f', 'a0zz', 'zz00', '0x12', '00 1', '1\u00002', '0\u0130', '\u01300', '\ud800a', 'g0']) {
      expect(parseHex(bad), JSON.stringify(bad)).toBeUndefined();
      expect(() => fromHex(bad)).toThrow(/not a hex string/);
    }
  });

  it('returns its own copy (not a view into Node’s shared Buffer pool)', () => {
    const b = parseHex('0102')!;
    expect(b.buffer.byteLength).toBe(2);
  });

  it('leaves the last regular expression subject alone (a big answer is not kept by RegExp.input)', () => {
    expect(/subject/.test('small subject')).toBe(true);
    fromHex('ab'.repeat(100_000));
    expect((RegExp as unknown as { input: string }).input).toBe('small subject');
  });
});
