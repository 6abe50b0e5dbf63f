import { describe, expect, it } from 'vitest';
import { createRadioTransport } from '../../../src/links/radio/factory.js';
import { KissTransport } from '../../../src/links/kiss/transport.js';
import { Rak3172Transport } from '../../../src/links/lora/rak3172.js';
import { MeshtasticTransport } from '../../../src/links/lora/meshtastic.js';
import { Counters } from '../../../src/util/counters.js';
import { configErrorOf } from '../../helpers/errors.js';
import { silentLogger } from '../../../src/util/log.js';

const deps = () => ({ log: silentLogger(), counters: new Counters() });

describe('createRadioTransport', () => {
  it('builds the documented example entries', () => {
    const lora = createRadioTransport({ type: 'lora', board: 'rak3172', device: '/dev/ttyUSB0', region: 'EU868', sf: '12' }, deps());
    expect(lora).toBeInstanceOf(Rak3172Transport);
    // The board's 115 bytes at SF12 on air (not LoRaWAN DR0's 51), less the RNode-compatible header byte.
    expect(lora.capabilities).toMatchObject({ mtu: 114, dutyCycle: 0.01, needsCallsign: false, direction: 'duplex' });
    const ham = createRadioTransport({ type: 'kiss', callsign: 'N0CALL-7', tcp: '127.0.0.1:8001' }, deps());
    expect(ham).toBeInstanceOf(KissTransport);
    expect((ham as KissTransport).callsign).toEqual({ call: 'N0CALL', ssid: 7 });
    expect(ham.capabilities.needsCallsign).toBe(true);
    const mesh = createRadioTransport({ type: 'lora', board: 'meshtastic', device: '/dev/ttyACM0', region: 'EU868', channel: '1' }, deps());
    expect(mesh).toBeInstanceOf(MeshtasticTransport);
    expect(mesh.capabilities.dutyCycle).toBe(0.1);
    const us = createRadioTransport({ type: 'lora', board: 'rak3172', device: '/dev/ttyUSB0', region: 'US915', sf: '10' }, deps());
    expect(us.capabilities.mtu).toBe(13); // the largest SF10 frame within the 400 ms dwell time (18-symbol preamble, header byte)
    const fast = createRadioTransport(
      { type: 'lora', board: 'rnode', device: '/dev/ttyUSB0', region: 'EU868', frequency: '869.525', sf: '7', bw: '250' },
      deps(),
    );
    expect(fast.capabilities.mtu).toBe(221);
  });

  it('explains every bad option with a ConfigError naming it', () => {
    const bad: [Record<string, string>, RegExp][] = [
      [{ type: 'radio' }, /type=radio/],
      [{ type: 'lora', board: 'rak3172', device: 'x', colour: 'red' }, /unknown option colour/],
      [{ type: 'lora', device: 'x' }, /board= is required/],
      [{ type: 'lora', board: 'nosuch', device: 'x' }, /unknown board "nosuch"/],
      [{ type: 'lora', board: 'rak3172' }, /device= is required/],
      [{ type: 'lora', board: 'rak3172', device: 'x', sf: '13' }, /sf=13/],
      [{ type: 'lora', board: 'rak3172', device: 'x', region: 'MARS' }, /region=MARS/],
      [{ type: 'lora', board: 'rak3172', device: 'x', frequency: '915' }, /outside EU868/],
      [{ type: 'lora', board: 'rak3172', device: 'x', cr: '4/9' }, /cr=4\/9/],
      [{ type: 'lora', board: 'rak3172', device: 'x', dutycycle: '0.5' }, /duty cycle 0.5 is not in \(0, 0.01\]/],
      [{ type: 'lora', board: 'rak3172', device: 'x', region: 'US915', sf: '12' }, /leaves no payload in US915/],
      [{ type: 'lora', board: 'kiss-tnc', device: 'x' }, /use type=kiss/],
      [{ type: 'lora', board: 'nordic-uart', device: 'x' }, /BLE/],
      [{ type: 'kiss', board: 'rak3172', callsign: 'N0CALL', device: 'x' }, /not KISS\/AX.25/],
      [{ type: 'kiss', callsign: 'N0CALL', tcp: 'localhost' }, /tcp=localhost/],
      [{ type: 'kiss', callsign: 'N0CALL', device: 'x', txdelay: 'soon' }, /txdelay=soon/],
    ];
    for (const [opts, re] of bad) {
      expect(configErrorOf(() => createRadioTransport(opts, deps()), JSON.stringify(opts)).message, JSON.stringify(opts)).toMatch(re);
    }
  });

  it('a receive-only link refuses to send', async () => {
    const t = createRadioTransport(
      { type: 'lora', board: 'rak3172', device: '/dev/null', direction: 'rx' },
      { ...deps(), openChannel: () => new Promise(() => undefined) },
    );
    const opening = t.open();
    await expect(t.send(Uint8Array.of(1))).rejects.toThrow(/receive-only/);
    await t.close();
    await expect(opening).rejects.toThrow(/closed/);
  });
});
