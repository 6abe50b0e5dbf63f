// A Meshtastic node on BLE for the controller emulator, written from the Meshtastic Client API
// ("BLE": service 6ba1b218-..., ToRadio f75c76d2-... written by the client, FromRadio
// 2c55e69e-... read until empty, FromNum ed9da18c-... notified when there is something to read)
// and meshtastic/python ble_interface.py. The node behind it is the serial-API emulator written
// from meshtastic/protobufs (test/emulators/radios/meshtastic.ts): its stream output is cut into
// FromRadio protobufs here. Imports nothing from src/.
import { AttServer, PROP } from './att-server.js';
import type { EmulatedPeripheral, HciControllerEmulator } from './controller.js';
import { MeshtasticEmulator } from '../radios/meshtastic.js';

export const MESHTASTIC_UUIDS = {
  service: '6ba1b21815a8461f9fa85dcae273eafd',
  toRadio: 'f75c76d2129e4dada1dd7866124401e7',
  fromRadio: '2c55e69e499311edb8780242ac120002',
  fromNum: 'ed9da18ca8004f66a670aa7547e34453',
};

/** The serial emulator with its stream cut into FromRadio protobufs instead of a serial port. */
class BleNode extends MeshtasticEmulator {
  sink: (bytes: Uint8Array) => void = () => undefined;
  protected override toHost(bytes: Uint8Array | string): void {
    this.sink(typeof bytes === 'string' ? new Uint8Array(Buffer.from(bytes, 'latin1')) : bytes);
  }
  /** One ToRadio write, as if it had come in stream-framed over serial. */
  feed(pb: Buffer): void {
    this.onHostBytes(Uint8Array.from([0x94, 0xc3, pb.length >> 8, pb.length & 0xff, ...pb]));
  }
}

export class EmulatedMeshtasticBle {
  readonly node: BleNode;
  readonly peripheral: EmulatedPeripheral;
  readonly gatt: AttServer;
  /** ToRadio writes as received. */
  readonly writes: Buffer[] = [];
  /** FromRadio reads served (empty ones included). */
  reads = 0;
  private queue: Buffer[] = [];
  private stream = Buffer.alloc(0);
  private fromNum = 0;

  constructor(
    private readonly ctl: HciControllerEmulator,
    opts: { address: string; name: string; nodeNum: number; serverMtu?: number },
  ) {
    this.node = new BleNode(opts.nodeNum);
    this.node.sink = (b) => this.fromNode(b);
    this.gatt = new AttServer(
      [
        { uuid: '1800', characteristics: [{ uuid: '2a00', properties: PROP.READ, value: Buffer.from(opts.name) }] },
        {
          uuid: MESHTASTIC_UUIDS.service,
          characteristics: [
            { uuid: MESHTASTIC_UUIDS.toRadio, properties: PROP.WRITE, onWrite: (d) => this.onToRadio(d) },
            { uuid: MESHTASTIC_UUIDS.fromRadio, properties: PROP.READ, onRead: () => this.onFromRadioRead() },
            { uuid: MESHTASTIC_UUIDS.fromNum, properties: PROP.NOTIFY | PROP.READ },
          ],
        },
      ],
      opts.serverMtu ?? 517,
    );
    this.peripheral = {
      address: opts.address,
      addressType: 'random',
      name: opts.name,
      advertisedService: MESHTASTIC_UUIDS.service,
      gatt: this.gatt,
      connectable: true,
      onConnect: () => {
        this.queue = [];
        this.stream = Buffer.alloc(0);
      },
    };
    ctl.addPeripheral(this.peripheral);
  }

  private onToRadio(d: Buffer): void {
    this.writes.push(d);
    this.node.feed(d); // one write is one ToRadio protobuf
  }

  /** An empty value means "nothing more" (the client stops reading). */
  private onFromRadioRead(): Buffer {
    this.reads++;
    return this.queue.shift() ?? Buffer.alloc(0);
  }

  /** The node's serial output: FromRadio protobufs (94 C3 len pb) between console text. */
  private fromNode(b: Uint8Array): void {
    this.stream = Buffer.concat([this.stream, Buffer.from(b)]);
    let added = false;
    for (;;) {
      const s = this.stream.indexOf(Buffer.from([0x94, 0xc3]));
      if (s < 0 || this.stream.length < s + 4) break;
      const len = this.stream.readUInt16BE(s + 2);
      if (this.stream.length < s + 4 + len) break;
      this.queue.push(Buffer.from(this.stream.subarray(s + 4, s + 4 + len)));
      this.stream = this.stream.subarray(s + 4 + len);
      added = true;
    }
    if (added && this.gatt.notificationsEnabled(MESHTASTIC_UUIDS.fromNum)) {
      const n = Buffer.alloc(4);
      n.writeUInt32LE(++this.fromNum >>> 0);
      this.ctl.sendAtt(this.peripheral, this.gatt.notification(MESHTASTIC_UUIDS.fromNum, n));
    }
  }
}
