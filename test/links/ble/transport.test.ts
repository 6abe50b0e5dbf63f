// The BLE transport through the real noble stack (@stoprocent/noble, UART HCI driver) against
// the HCI controller emulator on a socat pty pair.
import { afterEach, describe, expect, test } from 'vitest';
import { ax25From, ax25Info, backoffDelays, startRig, watch, payload, type Rig } from './rig.js';
import { EmulatedKissTnc, EmulatedNusDevice } from '../../emulators/hci/devices.js';
import { decodeAx25Ui } from '../../../src/links/kiss/ax25.js';
import { until } from '../../helpers/wait.js';

let rig: Rig | null = null;

afterEach(async () => {
  await rig?.close();
  rig = null;
});

describe('BLE KISS TNC (Mobilinkd BLE KISS service)', () => {
  test('connects, negotiates the ATT MTU and exchanges frames both ways in MTU-sized fragments', async () => {
    rig = await startRig();
    const tnc = new EmulatedKissTnc(rig.ctl, { address: 'c4:11:22:33:44:55', name: 'TNC4', serverMtu: 40 });
    const { t, seen } = await rig.opened({ 'link.ble0.service': 'kiss', 'link.ble0.name': 'TNC4' }, tnc);
    expect(t.attMtu).toBe(40);
    expect(t.capabilities).toMatchObject({ direction: 'duplex', mtu: 256, needsCallsign: true });

    const out = [payload(200, 1), payload(1, 2), payload(150, 3), payload(256, 4)];
    await Promise.all(out.map((f) => t.send(f)));
    await tnc.waitForFrames(out.length);
    // On air each frame is an AX.25 UI frame from our callsign to ALTNET.
    expect(tnc.frames.map(ax25Info)).toEqual(out);
    expect(decodeAx25Ui(tnc.frames[0]).source).toEqual({ call: 'N0CALL', ssid: 7 });
    // Every GATT write fits ATT MTU - 3, and the frames needed many of them.
    expect(Math.max(...tnc.writes.map((w) => w.length))).toBe(37);
    expect(tnc.writes.length).toBeGreaterThan(out.length * 3);

    const back = [payload(180, 5), payload(3, 6), payload(256, 7)];
    tnc.sendFrames(back.map((f) => ax25From(f)));
    await until('frames from the TNC', () => seen.frames.length === back.length);
    expect(seen.frames).toEqual(back);
    expect(rig.counters.get('link.ble0.rx_frames')).toBe(3);
    expect(rig.counters.get('link.ble0.tx_frames')).toBe(4);
    expect(rig.counters.get('link.ble0.connects')).toBe(1);
    // What noble asked of the controller, and that none of it went unanswered.
    expect(rig.ctl.commands).toEqual(
      expect.arrayContaining([
        'Reset',
        'Read Local Version',
        'Read BD ADDR',
        'LE Set Event Mask',
        'LE Read Buffer Size',
        'LE Set Scan Enable',
        'LE Create Connection',
      ]),
    );
    expect(rig.ctl.unknownCommands).toEqual([]);
  });

  test('receive-only without a callsign (listening needs no licence): hears frames to ALTNET, never transmits', async () => {
    rig = await startRig();
    const tnc = new EmulatedKissTnc(rig.ctl, { address: 'c4:11:22:33:44:56', name: 'TNC4', serverMtu: 40 });
    const { t, seen } = await rig.opened(
      {
        'link.ble0.service': 'kiss',
        'link.ble0.name': 'TNC4',
        'link.ble0.callsign': '',
        'link.ble0.direction': 'rx',
      },
      tnc,
    );
    expect(t.capabilities).toMatchObject({ direction: 'rx' });
    const heard = [payload(120, 11), payload(256, 12)];
    tnc.sendFrames([...heard.map((f) => ax25From(f)), ax25From(payload(10, 13), 'DL1ABC-2', 'OTHER')]);
    await until('frames from the TNC', () => seen.frames.length === heard.length && rig!.counters.get('link.ble0.rx_ax25_foreign') === 1);
    expect(seen.frames).toEqual(heard);
    await expect(t.send(payload(10, 14))).rejects.toMatchObject({ code: 'link-receive-only' });
    expect(rig.counters.get('link.ble0.send_on_rx_only')).toBe(1);
    expect(tnc.writes).toEqual([]);
  });

  test('a dropped connection (Disconnection Complete) leads to a reconnect; frames queued meanwhile are sent', async () => {
    rig = await startRig();
    const tnc = new EmulatedKissTnc(rig.ctl, { address: 'c4:11:22:33:44:56', name: 'TNC4', serverMtu: 23 });
    const { t, seen } = await rig.opened({ 'link.ble0.service': 'kiss', 'link.ble0.address': 'C4:11:22:33:44:56' }, tnc);
    await t.send(payload(60, 1));
    await tnc.waitForFrames(1);

    // A frame sent the moment the link reports down waits in the queue for the next connection.
    let queued: Promise<void> | null = null;
    t.onState((s) => {
      if (s === 'down' && !queued) queued = t.send(payload(90, 2));
    });
    rig.ctl.dropConnection(tnc.peripheral, 0x08); // supervision timeout: the TNC went out of range
    await until('link down', () => queued !== null);
    expect(seen.reasons[seen.states.indexOf('down')]).toMatch(/0x8/);
    await until('reconnected', () => t.state === 'up' && tnc.connections === 2 && tnc.subscribed);
    await queued;
    await tnc.waitForFrames(2);
    expect(ax25Info(tnc.frames[1])).toEqual(payload(90, 2));

    tnc.sendFrames([ax25From(payload(70, 3))]);
    await until('frame after reconnect', () => seen.frames.length === 1);
    expect(seen.frames[0]).toEqual(payload(70, 3));
    expect(rig.counters.get('link.ble0.disconnects')).toBe(1);
    expect(rig.counters.get('link.ble0.connects')).toBe(2);
    expect(seen.states).toEqual(['starting', 'up', 'down', 'up']);
    // The first retry after a drop waits the minimum; a failed attempt doubles it.
    expect(backoffDelays(rig.log)[0]).toBe(20);
    expect(rig.counters.get('link.ble0.ble-scan-timeout') + rig.counters.get('link.ble0.ble-connect-timeout')).toBe(
      backoffDelays(rig.log).length - 1,
    );
  });

  test('a peripheral sending garbage is counted, its frames dropped, and the link keeps working', async () => {
    rig = await startRig();
    const tnc = new EmulatedKissTnc(rig.ctl, { address: 'c4:11:22:33:44:57', name: 'TNC4', serverMtu: 64 });
    const { t, seen } = await rig.opened({ 'link.ble0.service': 'kiss', 'link.ble0.name': 'TNC4', 'link.ble0.mtu': '100' }, tnc);

    tnc.sendBytes(Buffer.from('hello, not KISS at all', 'latin1')); // bytes outside any frame
    tnc.sendBytes(Buffer.from([0xc0, 0x00, 0x41, 0xdb, 0x42, 0xc0])); // invalid escape
    tnc.sendBytes(Buffer.concat([Buffer.from([0xc0, 0x00]), Buffer.alloc(300, 0x55), Buffer.from([0xc0])])); // too long
    tnc.sendBytes(Buffer.from([0xc0, 0x06, 0x01, 0x02, 0xc0])); // SetHardware chatter
    // ATT-level junk: a notification on a handle that does not exist, an unsolicited response.
    rig.ctl.sendAtt(tnc.peripheral, Buffer.from([0x1b, 0x99, 0x00, 0xc0, 0x00, 0x66, 0xc0]));
    rig.ctl.sendAtt(tnc.peripheral, Buffer.from([0x0b, 0x01, 0x02]));
    // Truncated PDUs that make noble's unchecked reads throw: a notification with no handle, a
    // Command Complete event with no opcode.
    rig.ctl.sendAtt(tnc.peripheral, Buffer.from([0x1b]));
    rig.ctl.writeRaw(Buffer.from([0x04, 0x0e, 0x01, 0x01]));
    // AX.25 that is not for us: another destination, our own echo, a frame too short to parse.
    tnc.sendFrames([ax25From(payload(10, 1), 'DL1ABC-2', 'APRS'), ax25From(payload(10, 2), 'N0CALL-7'), Buffer.from([1, 2, 3])]);
    tnc.sendFrames([ax25From(payload(50, 9))]);
    await until('the good frame', () => seen.frames.length >= 1);
    expect(seen.frames).toEqual([payload(50, 9)]);
    expect(rig.counters.get('link.ble0.rx_garbage_bytes')).toBe(22);
    expect(rig.counters.get('link.ble0.rx_bad_frames')).toBe(1);
    expect(rig.counters.get('link.ble0.rx_oversize')).toBe(1);
    expect(rig.counters.get('link.ble0.rx_non_data')).toBe(1);
    expect(rig.counters.get('link.ble0.hci_malformed')).toBe(2);
    expect(rig.counters.get('link.ble0.rx_ax25_foreign')).toBe(1);
    expect(rig.counters.get('link.ble0.rx_ax25_own_echo')).toBe(1);
    expect(rig.counters.get('link.ble0.rx_ax25_malformed')).toBe(1);
    expect(t.state).toBe('up');

    await t.send(payload(30, 10));
    await tnc.waitForFrames(1);
    expect(ax25Info(tnc.frames[0])).toEqual(payload(30, 10));
  });
});

describe('Nordic UART Service', () => {
  test('length-prefixed frames both ways over the default 23-byte ATT MTU', async () => {
    rig = await startRig();
    const nus = new EmulatedNusDevice(rig.ctl, { address: 'd0:00:00:00:00:01', name: 'altnet-nus', serverMtu: 23 });
    const { t, seen } = await rig.opened({ 'link.ble0.service': 'nus', 'link.ble0.name': 'altnet-nus' }, nus);
    expect(t.attMtu).toBe(23);
    expect(t.capabilities).toMatchObject({ mtu: 244, needsCallsign: false });

    const out = [payload(244, 1), payload(5, 2), payload(100, 3)];
    await Promise.all(out.map((f) => t.send(f)));
    await nus.waitForFrames(3);
    expect(nus.frames).toEqual(out);
    expect(nus.errors).toEqual([]);
    expect(Math.max(...nus.writes.map((w) => w.length))).toBe(20);

    const back = [payload(200, 4), payload(1, 5)];
    nus.sendFrames(back);
    await until('frames from the device', () => seen.frames.length === 2);
    expect(seen.frames).toEqual(back);
  });

  test('garbage, a damaged frame and an oversized length are counted and skipped', async () => {
    rig = await startRig();
    const nus = new EmulatedNusDevice(rig.ctl, { address: 'd0:00:00:00:00:02', name: 'altnet-nus', serverMtu: 100 });
    const { t, seen } = await rig.opened({ 'link.ble0.service': 'nus', 'link.ble0.name': 'altnet-nus', 'link.ble0.mtu': '64' }, nus);
    nus.sendBytes(Buffer.from([1, 2, 3, 4]));
    nus.sendBytes(Buffer.from([0xa5, 0x00, 0x02, 0x10, 0x20, 0x00, 0x00])); // CRC wrong
    nus.sendBytes(Buffer.from([0xa5, 0xff, 0xff])); // longer than the MTU
    nus.sendFrames([payload(64, 1)]);
    await until('the good frame', () => seen.frames.length >= 1);
    expect(seen.frames).toEqual([payload(64, 1)]);
    expect(rig.counters.get('link.ble0.rx_bad_frames')).toBe(1);
    expect(rig.counters.get('link.ble0.rx_oversize')).toBe(1);
    expect(rig.counters.get('link.ble0.rx_garbage_bytes')).toBeGreaterThanOrEqual(4);
    expect(t.state).toBe('up');
  });
});

describe('finding and reaching the peripheral', () => {
  test('the name filter picks the configured device among several advertising the service', async () => {
    rig = await startRig();
    const other = new EmulatedKissTnc(rig.ctl, { address: 'c4:00:00:00:00:01', name: 'TNC3', serverMtu: 40 });
    const wanted = new EmulatedKissTnc(rig.ctl, { address: 'c4:00:00:00:00:02', name: 'TNC4', serverMtu: 40 });
    const t = rig.transport({ 'link.ble0.service': 'kiss', 'link.ble0.name': 'TNC4' });
    await t.open();
    await until('link up', () => t.state === 'up' && wanted.subscribed);
    expect(other.connections).toBe(0);
    expect(wanted.connections).toBe(1);
  });

  test('no matching device: scan timeouts are counted and the link keeps trying until one appears', async () => {
    rig = await startRig();
    const t = rig.transport({ 'link.ble0.service': 'kiss', 'link.ble0.name': 'TNC4', 'link.ble0.scan_timeout_ms': '150' });
    await t.open();
    await until('five scan timeouts', () => rig!.counters.get('link.ble0.ble-scan-timeout') >= 5);
    expect(t.state).toBe('down');
    // Exponential backoff from reconnect_min_ms (20), capped at reconnect_max_ms (200).
    expect(backoffDelays(rig.log).slice(0, 5)).toEqual([20, 40, 80, 160, 200]);
    const tnc = new EmulatedKissTnc(rig.ctl, { address: 'c4:00:00:00:00:03', name: 'TNC4', serverMtu: 40 });
    await until('link up once the TNC advertises', () => t.state === 'up' && tnc.subscribed);
  });

  test('a device that never completes the connection hits the connect timeout and is cancelled', async () => {
    rig = await startRig();
    const tnc = new EmulatedKissTnc(rig.ctl, { address: 'c4:00:00:00:00:04', name: 'TNC4', serverMtu: 40 });
    tnc.peripheral.connectable = false;
    const t = rig.transport({ 'link.ble0.service': 'kiss', 'link.ble0.name': 'TNC4', 'link.ble0.connect_timeout_ms': '200' });
    await t.open();
    await until('a connect timeout', () => rig!.counters.get('link.ble0.ble-connect-timeout') >= 1);
    await until('the cancel command', () => rig!.ctl.commands.includes('LE Create Connection Cancel'));
    tnc.peripheral.connectable = true;
    await until('link up after the device accepts', () => t.state === 'up' && tnc.subscribed);
  });

  test('a device without the configured service is counted and left, not used', async () => {
    rig = await startRig();
    const nus = new EmulatedNusDevice(rig.ctl, { address: 'd0:00:00:00:00:09', name: 'TNC4', serverMtu: 40 });
    const t = rig.transport({ 'link.ble0.service': 'kiss', 'link.ble0.name': 'TNC4' });
    const seen = watch(t);
    await t.open();
    await until('two failed attempts', () => rig!.counters.get('link.ble0.ble-gatt-missing') >= 2);
    expect(seen.states).not.toContain('up');
    expect(seen.reasons.some((r) => /does not offer service 00000001-ba2a-46c9-ae49-01b0961f68bb/.test(r ?? ''))).toBe(true);
    // We hang up on it each time rather than keeping a useless connection.
    await until('disconnected', () => !rig!.ctl.isConnected(nus.peripheral));
    expect(rig.ctl.commands).toContain('Disconnect');
  });

  test('the send queue is bounded while the link is down, and close rejects what is left', async () => {
    rig = await startRig();
    const t = rig.transport({ 'link.ble0.service': 'kiss', 'link.ble0.name': 'TNC4', 'link.ble0.queue_frames': '3' });
    await t.open();
    const pending = [t.send(payload(10, 1)), t.send(payload(10, 2)), t.send(payload(10, 3))];
    const settled = pending.map((p) =>
      p.then(
        () => 'sent',
        (e: { code?: string }) => e.code,
      ),
    );
    await expect(t.send(payload(10, 4))).rejects.toMatchObject({ code: 'ble-queue-full' });
    await expect(t.send(payload(257, 5))).rejects.toMatchObject({ code: 'ble-frame-too-large' });
    expect(rig.counters.get('link.ble0.tx_queue_full')).toBe(1);
    await t.close();
    expect(await Promise.all(settled)).toEqual(['ble-closed', 'ble-closed', 'ble-closed']);
    expect(t.state).toBe('stopped');
  });

  test('losing the HCI controller itself (UART gone) takes the link down without crashing', async () => {
    rig = await startRig();
    const tnc = new EmulatedKissTnc(rig.ctl, { address: 'c4:00:00:00:00:05', name: 'TNC4', serverMtu: 40 });
    const t = rig.transport({ 'link.ble0.service': 'kiss', 'link.ble0.name': 'TNC4' });
    await t.open();
    await until('link up', () => t.state === 'up' && tnc.subscribed);
    const sending = t.send(payload(20, 1)).then(
      () => 'sent',
      (e: { code?: string }) => e.code,
    );
    await rig.pair.close(); // socat gone: both ptys hang up
    await until('link down', () => t.state === 'down');
    await until('the loss counted', () => rig!.counters.get('link.ble0.disconnects') + rig!.counters.get('link.ble0.ble-error') >= 1);
    await t.close();
    expect(t.state).toBe('stopped');
    expect(['sent', 'ble-closed']).toContain(await sending);
  });

  test('an adapter that never powers on fails open() with a typed error', async () => {
    rig = await startRig();
    const t = rig.transport({
      'link.ble0.service': 'kiss',
      'link.ble0.name': 'TNC4',
      'link.ble0.hci': `uart:${rig.pair.device}-missing`,
      'link.ble0.adapter_timeout_ms': '300',
    });
    await expect(t.open()).rejects.toMatchObject({ code: 'ble-adapter' });
    expect(rig.counters.get('link.ble0.adapter_failures')).toBe(1);
  });
});

describe('several links in one process', () => {
  test('two transports on two controllers run at once (UART port is per instance, not an env var) and leave no handlers behind', async () => {
    const exitListeners = process.listenerCount('exit');
    const sigintListeners = process.listenerCount('SIGINT');
    const second = await startRig();
    rig = await startRig();
    try {
      const tnc = new EmulatedKissTnc(rig.ctl, { address: 'c4:00:00:00:01:01', name: 'TNC4', serverMtu: 50 });
      const nus = new EmulatedNusDevice(second.ctl, { address: 'd0:00:00:00:01:02', name: 'nus', serverMtu: 30 });
      const a = rig.transport({ 'link.ble0.service': 'kiss', 'link.ble0.name': 'TNC4' });
      const b = second.transport({ 'link.ble0.service': 'nus', 'link.ble0.name': 'nus' });
      await Promise.all([a.open(), b.open()]);
      await until('both links up', () => a.state === 'up' && b.state === 'up' && tnc.subscribed && nus.subscribed);
      await Promise.all([a.send(payload(120, 1)), b.send(payload(120, 2))]);
      await Promise.all([tnc.waitForFrames(1), nus.waitForFrames(1)]);
      expect(ax25Info(tnc.frames[0])).toEqual(payload(120, 1));
      expect(nus.frames[0]).toEqual(payload(120, 2));
      expect([a.attMtu, b.attMtu]).toEqual([50, 30]);
      expect(process.listenerCount('exit')).toBeGreaterThan(exitListeners);
    } finally {
      await second.close();
      await rig.close();
      rig = null;
    }
    expect(process.listenerCount('exit')).toBe(exitListeners);
    expect(process.listenerCount('SIGINT')).toBe(sigintListeners);
  });
});
