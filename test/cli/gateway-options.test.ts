import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/cli/config.js';
import { gatewayOptionsFromConfig } from '../../src/cli/cmd-run.js';
import { silentLogger } from '../../src/util/log.js';

const CONF = `network=regtest
callsign=N0CALL
link.ham.type=kiss
link.ham.tcp=127.0.0.1:8001
link.ham2.type=kiss
link.ham2.tcp=127.0.0.1:8002
link.ham2.callsign=N0CALL-7
link.lora0.type=lora
link.lora0.board=rak3172
link.web.type=esplora
link.web.url=http://127.0.0.1:3000
`;

describe('global settings reach the links that take them', () => {
  it('copies the operator callsign only into amateur link types that lack one', () => {
    const o = gatewayOptionsFromConfig(parseConfig(CONF, 'altnet.conf'), silentLogger());
    const by = Object.fromEntries(o.links.map((l) => [l.name, l.options]));
    expect(by.ham.callsign).toBe('N0CALL');
    expect(by.ham2.callsign).toBe('N0CALL-7');
    // Drivers reject keys they do not know: esplora and lora links must not get one.
    expect(by.web.callsign).toBeUndefined();
    expect(by.lora0.callsign).toBeUndefined();
    expect(o.mode).toBe('gateway');
    expect(by.lora0.direction).toBeUndefined();
  });

  it('makes radio links receive-only in receive-only mode, and leaves internet links alone', () => {
    const o = gatewayOptionsFromConfig(parseConfig(CONF + 'receiveonly=1\n', 'altnet.conf'), silentLogger());
    const by = Object.fromEntries(o.links.map((l) => [l.name, l.options]));
    expect(o.mode).toBe('receive-only');
    expect(by.lora0.direction).toBe('rx');
    expect(by.ham.direction).toBe('rx');
    expect(by.web.direction).toBeUndefined();
  });
});
