import { describe, expect, test } from 'vitest';
import { parseBleOptions, createBleTransport } from '../../../src/links/ble/config.js';
import { configErrorOf } from '../../helpers/errors.js';
import { Counters } from '../../../src/util/counters.js';
import { silentLogger } from '../../../src/util/log.js';

const err = (options: Record<string, string>) => configErrorOf(() => parseBleOptions(options));

describe('BLE link options', () => {
  test('a KISS TNC by name, with the Mobilinkd board defaults', () => {
    const c = parseBleOptions({
      'link.ble0.type': 'ble',
      'link.ble0.service': 'kiss',
      'link.ble0.name': 'TNC4',
      'link.ble0.callsign': 'N0CALL-7',
    });
    expect(c.linkName).toBe('ble0');
    expect(c.profile).toEqual({
      service: '00000001-ba2a-46c9-ae49-01b0961f68bb',
      write: '00000002-ba2a-46c9-ae49-01b0961f68bb',
      notify: '00000003-ba2a-46c9-ae49-01b0961f68bb',
      framing: 'kiss',
    });
    expect(c.peripheralName).toBe('TNC4');
    expect(c.hci).toEqual({ kind: 'default' });
    expect(c.capabilities).toEqual({
      direction: 'duplex',
      mtu: 256,
      bitrate: 1200,
      dutyCycle: 1,
      carries: ['headers', 'tx'],
      needsCallsign: true,
    });
    expect(c.ax25).toEqual({ source: { call: 'N0CALL', ssid: 7 }, destination: { call: 'ALTNET', ssid: 0 } });
  });

  test('listening needs no licence: a receive-only amateur TNC is built without a callsign', () => {
    const c = parseBleOptions({ 'link.ble0.service': 'kiss', 'link.ble0.name': 'TNC4', 'link.ble0.direction': 'rx' });
    expect(c.capabilities).toMatchObject({ direction: 'rx', needsCallsign: true });
    // AX.25 still frames what it hears: only UI frames to ALTNET are taken; there is no source to send from.
    expect(c.ax25).toEqual({ source: undefined, destination: { call: 'ALTNET', ssid: 0 } });
    // A callsign given anyway is kept (own echoes are then recognised), and duplex stays the default.
    expect(
      parseBleOptions({ 'link.ble0.service': 'kiss', 'link.ble0.name': 'T', 'link.ble0.direction': 'rx', 'link.ble0.callsign': 'N0CALL' })
        .ax25?.source,
    ).toEqual({ call: 'N0CALL', ssid: 0 });
    expect(parseBleOptions({ 'link.ble0.service': 'nus', 'link.ble0.name': 'T' }).capabilities.direction).toBe('duplex');
  });

  test('an amateur-radio TNC is not built without a callsign', () => {
    const e = err({ 'link.ble0.service': 'kiss', 'link.ble0.name': 'TNC4' });
    expect(e.code).toBe('callsign-required');
    expect(e.message).toMatch(/link\.<name>\.callsign|link\.ble0\.callsign/);
    // The error says both ways out: a callsign, or listening only.
    expect(e.message).toContain('link.ble0.direction=rx');
    expect(err({ 'link.ble0.service': 'kiss', 'link.ble0.name': 'TNC4', 'link.ble0.direction': 'tx' }).code).toBe('callsign-required');
    expect(err({ 'link.ble0.service': 'kiss', 'link.ble0.name': 'TNC4', 'link.ble0.direction': 'listen' }).message).toMatch(/rx/);
    expect(err({ 'link.ble0.service': 'kiss', 'link.ble0.name': 'TNC4', 'link.ble0.callsign': 'not a call' }).code).toBe(
      'callsign-invalid',
    );
    // The AX.25 information field caps the frame MTU.
    expect(
      err({ 'link.ble0.service': 'kiss', 'link.ble0.name': 'T', 'link.ble0.callsign': 'N0CALL', 'link.ble0.mtu': '300' }).message,
    ).toMatch(/1 to 256/);
    expect(err({ 'link.ble0.service': 'nus', 'link.ble0.name': 'T', 'link.ble0.callsign': 'N0CALL' }).message).toMatch(
      /only amateur-radio KISS TNCs/,
    );
  });

  test('a NUS device by address (any case, with or without colons), over a UART controller', () => {
    const c = parseBleOptions(
      { service: 'nus', address: 'AABBCCDDEEFF', hci: 'uart:/dev/ttyACM0@115200', mtu: '200' },
      { linkName: 'nus1' },
    );
    expect(c.linkName).toBe('nus1');
    expect(c.address).toBe('aa:bb:cc:dd:ee:ff');
    expect(c.profile.framing).toBe('length-prefix');
    expect(c.profile.write).toBe('6e400002-b5a3-f393-e0a9-e50e24dcca9e');
    expect(c.hci).toEqual({ kind: 'uart', port: '/dev/ttyACM0', baudRate: 115200 });
    expect(c.capabilities.mtu).toBe(200);
    expect(c.capabilities.needsCallsign).toBe(false);
    expect(parseBleOptions({ service: 'nus', name: 'x', hci: 'hci1' }).hci).toEqual({ kind: 'device', deviceId: 1 });
  });

  test.each([
    [{ 'link.ble0.type': 'kiss', 'link.ble0.service': 'kiss', 'link.ble0.name': 'T' }, 'link-option-invalid', /link\.ble0\.type=kiss/],
    [{ 'link.ble0.type': 'ble', 'link.ble0.name': 'T' }, 'link-option-missing', /link\.ble0\.service is required/],
    [{ 'link.ble0.service': 'spp', 'link.ble0.name': 'T' }, 'link-option-invalid', /kiss .*, nus .* or meshtastic/],
    [{ 'link.ble0.service': 'kiss' }, 'link-option-missing', /link\.ble0\.name=<advertised name> or link\.ble0\.address=/],
    [{ 'link.ble0.service': 'kiss', 'link.ble0.address': 'aa:bb:cc' }, 'link-option-invalid', /six hex bytes/],
    [
      { 'link.ble0.service': 'kiss', 'link.ble0.name': 'T', 'link.ble0.callsign': 'N0CALL', 'link.ble0.mtu': '0' },
      'link-option-invalid',
      /link\.ble0\.mtu=0/,
    ],
    [
      { 'link.ble0.service': 'kiss', 'link.ble0.name': 'T', 'link.ble0.callsign': 'N0CALL', 'link.ble0.att_mtu': '600' },
      'link-option-invalid',
      /23 to 517/,
    ],
    [
      { 'link.ble0.service': 'kiss', 'link.ble0.name': 'T', 'link.ble0.callsign': 'N0CALL', 'link.ble0.hci': 'usb' },
      'link-option-invalid',
      /uart:\/dev\/ttyX/,
    ],
    [
      { 'link.ble0.service': 'kiss', 'link.ble0.name': 'T', 'link.ble0.colour': 'red' },
      'link-option-unknown',
      /link\.ble0\.colour is not a BLE link option/,
    ],
    [
      { 'link.ble0.service': 'kiss', 'link.ble0.name': 'T', 'link.ble0.board': 'nordic-uart' },
      'link-option-invalid',
      /speaks stream over BLE, not service=kiss/,
    ],
    [{ 'link.ble0.service': 'kiss', 'link.ble0.name': 'T', 'link.ble0.board': 'rak3172' }, 'link-option-invalid', /no BLE transport/],
    [{ 'link.ble0.service': 'kiss', 'link.ble0.name': 'T', 'link.ble0.board': 'nosuch' }, 'link-option-invalid', /board=nosuch/],
    [
      {
        'link.ble0.service': 'kiss',
        'link.ble0.name': 'T',
        'link.ble0.callsign': 'N0CALL',
        'link.ble0.reconnect_min_ms': '500',
        'link.ble0.reconnect_max_ms': '100',
      },
      'link-option-invalid',
      /at least reconnect_min_ms/,
    ],
    [{ 'link.ble0.service': 'kiss', 'link.ble1.name': 'T' }, 'link-option-invalid', /mixed/],
  ])('rejects %j', (options, code, message) => {
    const e = err(options);
    expect(e.code).toBe(code);
    expect(e.message).toMatch(message);
  });

  test('createBleTransport builds an unopened transport that refuses to send', async () => {
    const t = createBleTransport(
      { 'link.ble0.type': 'ble', 'link.ble0.service': 'nus', 'link.ble0.name': 'x' },
      { log: silentLogger(), counters: new Counters() },
    );
    expect(t.state).toBe('stopped');
    await expect(t.send(new Uint8Array(1))).rejects.toMatchObject({ code: 'ble-closed' });
  });
});
