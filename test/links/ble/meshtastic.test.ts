// A Meshtastic node over BLE: the one Meshtastic driver runs over a channel that speaks the BLE
// API (write ToRadio, read FromRadio until empty after each write and each FromNum
// notification), under the real noble stack and the HCI controller emulator.
import { afterEach, describe, expect, it } from 'vitest';
import { createBleLinkTransport } from '../../../src/links/ble/config.js';
import type { FrameTransport } from '../../../src/links/link.js';
import { EmulatedMeshtasticBle } from '../../emulators/hci/meshtastic-ble.js';
import { until } from '../../helpers/wait.js';
import { startRig, type Rig } from './rig.js';

let rig: Rig | undefined;
let transport: FrameTransport | undefined;
afterEach(async () => {
  await transport?.close();
  transport = undefined;
  await rig?.close();
  rig = undefined;
});

describe('Meshtastic over BLE', () => {
  it('configures the node, sends PRIVATE_APP packets and receives them, reading FromRadio after FromNum', async () => {
    rig = await startRig();
    const node = new EmulatedMeshtasticBle(rig.ctl, { address: 'd4:11:22:33:44:55', name: 'Meshtastic_4455', nodeNum: 0x55667788 });
    transport = createBleLinkTransport(
      rig.options({ 'link.ble0.service': 'meshtastic', 'link.ble0.name': 'Meshtastic_4455', 'link.ble0.region': 'EU868' }),
      {
        log: rig.log.child('ble0'),
        counters: rig.counters.scoped('link.ble0.'),
      },
    );
    const got: Buffer[] = [];
    transport.onFrame((f) => got.push(Buffer.from(f)));
    await transport.open();
    // want_config_id went as one ToRadio write, without the serial stream header.
    expect(node.node.toRadio[0].wantConfigId).toBeGreaterThan(0);
    expect(node.writes[0][0]).toBe(0x18); // ToRadio.want_config_id tag, not 0x94
    expect(node.reads).toBeGreaterThan(4); // my_info, metadata, config, config_complete_id, then empty

    await transport.send(Uint8Array.of(1, 2, 3));
    expect(node.node.toRadio.filter((m) => m.packet).map((m) => [...m.packet!.payload!])).toEqual([[1, 2, 3]]);
    expect(node.node.transmitted).toHaveLength(1);

    node.node.injectFromMesh(Uint8Array.of(9, 8, 7));
    await until('packet read after the FromNum notification', () => got.length === 1);
    expect([...got[0]]).toEqual([9, 8, 7]);
    expect(transport.capabilities.dutyCycle).toBe(0.1); // EU868 869.525 MHz, the LongFast slot
  });
});
