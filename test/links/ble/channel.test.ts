// The KISS/AX.25 radio transport (src/links/kiss) over a BLE KISS TNC through bleChannelFactory:
// the amateur-radio path, where every frame carries the operator's callsign.
import { afterEach, expect, test } from 'vitest';
import { startRig, payload, type Rig } from './rig.js';
import { EmulatedKissTnc } from '../../emulators/hci/devices.js';
import { parseBleOptions } from '../../../src/links/ble/config.js';
import { bleChannelFactory } from '../../../src/links/ble/channel.js';
import { KissTransport } from '../../../src/links/kiss/transport.js';
import { decodeAx25Ui, encodeAx25Ui, parseCallsign } from '../../../src/links/kiss/ax25.js';
import { findBoardProfile } from '../../../src/links/boards.js';
import { until } from '../../helpers/wait.js';

let rig: Rig | null = null;
let kiss: KissTransport | null = null;

afterEach(async () => {
  await kiss?.close();
  kiss = null;
  await rig?.close();
  rig = null;
});

test('KissTransport over a BLE KISS TNC: AX.25 UI frames with the callsign both ways, reopened after a drop', async () => {
  rig = await startRig();
  const tnc = new EmulatedKissTnc(rig.ctl, { address: 'c4:00:00:00:02:01', name: 'TNC4', serverMtu: 23 });
  const cfg = parseBleOptions(rig.options({ 'link.ble0.service': 'kiss', 'link.ble0.name': 'TNC4' }));
  const counters = rig.counters.scoped('link.ham0.');
  kiss = new KissTransport(
    {
      name: 'ham0',
      callsign: 'N0CALL-7',
      openChannel: bleChannelFactory(cfg, { log: rig.log.child('ham0'), counters }),
      profile: findBoardProfile('mobilinkd'),
      backoff: { initialMs: 20, maxMs: 200 },
    },
    { log: rig.log.child('ham0'), counters },
  );
  const got: Buffer[] = [];
  kiss.onFrame((f) => got.push(Buffer.from(f)));
  await kiss.open();
  expect(kiss.state).toBe('up');

  await kiss.send(payload(120, 1));
  await tnc.waitForFrames(1);
  const ui = decodeAx25Ui(tnc.frames[0]);
  expect(ui.source).toEqual({ call: 'N0CALL', ssid: 7 });
  expect(ui.destination.call).toBe('ALTNET');
  expect(Buffer.from(ui.info)).toEqual(payload(120, 1));
  expect(Math.max(...tnc.writes.map((w) => w.length))).toBe(20);

  const reply = (info: Buffer): Buffer =>
    Buffer.from(encodeAx25Ui({ destination: parseCallsign('ALTNET'), source: parseCallsign('DL1ABC-2'), info }));
  tnc.sendFrames([reply(payload(80, 2))]);
  await until('frame from the TNC', () => got.length === 1);
  expect(got[0]).toEqual(payload(80, 2));

  rig.ctl.dropConnection(tnc.peripheral);
  await until('reopened over a new connection', () => kiss!.state === 'up' && tnc.connections === 2 && tnc.subscribed);
  await kiss.send(payload(60, 3));
  await tnc.waitForFrames(2);
  expect(Buffer.from(decodeAx25Ui(tnc.frames[1]).info)).toEqual(payload(60, 3));
  expect(rig.counters.get('link.ham0.connects')).toBe(2);
  expect(rig.counters.get('link.ham0.disconnects')).toBe(1);
});
