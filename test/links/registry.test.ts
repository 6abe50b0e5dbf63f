import { describe, expect, it } from 'vitest';
import { LINK_TYPES, linkTypeEntries, linkTypeTakes, validateLinkOptions } from '../../src/links/registry.js';
import { checkLinkOptions, LinkOptions, parseLinkOptionValue, type LinkOptionSpec } from '../../src/links/options.js';
import { ConfigError } from '../../src/util/errors.js';

describe('link type registry', () => {
  it('lists every type once, each with an option table whose defaults pass their own rows', () => {
    expect(new Set(LINK_TYPES).size).toBe(LINK_TYPES.length);
    expect(LINK_TYPES).toEqual(['lora', 'kiss', 'ble', 'p2p', 'peers', 'esplora', 'electrum', 'dns', 'sim', 'module']);
    for (const e of linkTypeEntries()) {
      const keys = e.options.map((o) => o.key);
      expect(new Set(keys).size, e.type).toBe(keys.length);
      for (const o of e.options) {
        expect(o.help.length, `${e.type}.${o.key}`).toBeGreaterThan(0);
        if (o.default !== undefined) expect(parseLinkOptionValue(o, o.default).ok, `${e.type}.${o.key}`).toBe(true);
        if (o.type === 'enum') expect(o.values?.length, `${e.type}.${o.key}`).toBeGreaterThan(0);
      }
    }
  });

  it('says which types take the global callsign and receive-only direction', () => {
    expect(LINK_TYPES.filter((t) => linkTypeTakes(t, 'callsign'))).toEqual(['kiss', 'ble', 'sim']);
    expect(LINK_TYPES.filter((t) => linkTypeTakes(t, 'direction'))).toEqual(['lora', 'kiss', 'ble', 'sim']);
  });

  it('validates a link against its table, each problem with its key', () => {
    expect(validateLinkOptions('e', { type: 'esplora', url: 'https://h/api', rate: '5' })).toEqual([]);
    const problems = validateLinkOptions('e', { type: 'esplora', url: '', rte: '5', timeout: '5' });
    expect(problems.map((p) => [p.code, p.key])).toEqual([
      ['link-option-unknown', 'rte'],
      ['link-option-invalid', 'timeout'],
      ['link-option-missing', 'url'],
    ]);
    expect(problems[0]).toMatchObject({ suggestion: 'rate' });
    expect(problems[0].message).toMatch(/^link\.e\.rte is not an esplora link option: .*did you mean rate\?/);
    expect(problems[1].message).toBe('link.e.timeout=5: expected a whole number from 100 to 600000 ms');
    expect(problems[2].message).toBe('link.e.url is required, e.g. https://esplora.example.org/api');
    expect(validateLinkOptions('x', { type: 'radio' })).toMatchObject([{ key: 'type', code: 'link-option-invalid' }]);
    // type=module passes its other keys to the module.
    expect(validateLinkOptions('m', { type: 'module', path: '/x.mjs', anything: '1' })).toEqual([]);
    // Radio types include the framed layer's options.
    expect(validateLinkOptions('r', { type: 'lora', board: 'rak3172', integrity: 'md5' })).toMatchObject([{ key: 'integrity' }]);
  });
});

describe('LinkOptions', () => {
  const table: LinkOptionSpec[] = [
    { key: 'n', type: 'int', min: 1, max: 9, default: '3', help: 'n' },
    { key: 'f', type: 'bool', help: 'f' },
    { key: 'e', type: 'enum', values: ['EU868', 'US915'], help: 'e' },
    { key: 'hp', type: 'hostport', help: 'hp' },
  ];

  it('applies defaults, parses forms, and matches enums case-insensitively', () => {
    const o = new LinkOptions('l', 'test', table, { f: 'yes', e: 'eu868', hp: '[::1]:80' });
    expect([o.int('n'), o.bool('f'), o.enum('e'), o.hostPort('hp')]).toEqual([3, true, 'EU868', { host: '::1', port: 80 }]);
    expect(new LinkOptions('l', 'test', table, { n: '' }).int('n')).toBe(3);
  });

  it('throws the first problem as a ConfigError in the link.<name>.<key>=<value> form', () => {
    expect(() => new LinkOptions('l', 'test', table, { n: '10' })).toThrow(ConfigError);
    expect(() => new LinkOptions('l', 'test', table, { n: '10' })).toThrow('link.l.n=10: expected a whole number from 1 to 9');
    expect(() => new LinkOptions('l', 'test', table, { hp: 'x' })).toThrow(/^link\.l\.hp=x: expected host:port/);
    expect(checkLinkOptions('l', 'test', table, { f: 'maybe' })[0]).toMatchObject({
      code: 'link-option-invalid',
      key: 'f',
      value: 'maybe',
    });
  });
});
