// Peripherals for the controller emulator: a BLE KISS TNC (the Mobilinkd / "BLE KISS API"
// service) and a Nordic UART Service device speaking altnet's length-prefixed framing. Their
// codecs are written here independently of src/links/ble, so a shared mistake cannot hide.
import { AttServer, PROP } from './att-server.js';
import type { EmulatedPeripheral, HciControllerEmulator } from './controller.js';

export const KISS_UUIDS = {
  service: '00000001ba2a46c9ae4901b0961f68bb',
  write: '00000002ba2a46c9ae4901b0961f68bb',
  notify: '00000003ba2a46c9ae4901b0961f68bb',
};

export const NUS_UUIDS = {
  service: '6e400001b5a3f393e0a9e50e24dcca9e',
  write: '6e400002b5a3f393e0a9e50e24dcca9e',
  notify: '6e400003b5a3f393e0a9e50e24dcca9e',
};

export interface DeviceOptions {
  address: string;
  name: string;
  /** The server's ATT MTU; the link runs at min(this, the client's). */
  serverMtu: number;
  addressType?: 'public' | 'random';
}

function crc16(bytes: Buffer): number {
  let crc = 0xffff;
  for (let i = 0; i < bytes.length; i++) {
    crc ^= bytes[i] << 8;
    for (let k = 0; k < 8; k++) {
      crc = (crc & 0x8000) !== 0 ? (crc << 1) ^ 0x1021 : crc << 1;
      crc &= 0xffff;
    }
  }
  return crc;
}

abstract class EmulatedStreamDevice {
  readonly peripheral: EmulatedPeripheral;
  readonly gatt: AttServer;
  /** Every GATT write the central made, as received. */
  readonly writes: Buffer[] = [];
  /** Frames decoded from the central's writes. */
  readonly frames: Buffer[] = [];
  connections = 0;
  /** Framing errors seen in what the central wrote (must stay empty). */
  readonly errors: string[] = [];
  private waiters: { n: number; resolve: () => void }[] = [];
  protected rx = Buffer.alloc(0);

  constructor(
    protected readonly ctl: HciControllerEmulator,
    uuids: { service: string; write: string; notify: string },
    opts: DeviceOptions,
    private readonly notifyUuid = uuids.notify,
  ) {
    this.gatt = new AttServer(
      [
        { uuid: '1800', characteristics: [{ uuid: '2a00', properties: PROP.READ, value: Buffer.from(opts.name) }] },
        {
          uuid: uuids.service,
          characteristics: [
            {
              uuid: uuids.write,
              properties: PROP.WRITE | PROP.WRITE_NO_RESP,
              onWrite: (d) => this.onWrite(d),
            },
            { uuid: uuids.notify, properties: PROP.NOTIFY | PROP.READ },
          ],
        },
      ],
      opts.serverMtu,
    );
    this.peripheral = {
      address: opts.address,
      addressType: opts.addressType ?? 'random',
      name: opts.name,
      advertisedService: uuids.service,
      gatt: this.gatt,
      connectable: true,
      onConnect: () => {
        this.connections++;
        this.rx = Buffer.alloc(0);
      },
    };
    ctl.addPeripheral(this.peripheral);
  }

  get subscribed(): boolean {
    return this.gatt.notificationsEnabled(this.notifyUuid);
  }

  private onWrite(d: Buffer): void {
    this.writes.push(d);
    this.rx = Buffer.concat([this.rx, d]);
    for (const f of this.extract()) this.frames.push(f);
    this.waiters = this.waiters.filter((w) => {
      if (this.frames.length >= w.n) w.resolve();
      return this.frames.length < w.n;
    });
  }

  /** Takes complete frames out of this.rx. */
  protected abstract extract(): Buffer[];
  protected abstract encode(frame: Buffer): Buffer;

  /** Resolves once `n` frames in total have arrived from the central. */
  waitForFrames(n: number): Promise<void> {
    if (this.frames.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }

  /** Sends bytes to the central as notifications of at most ATT MTU - 3 bytes each. */
  sendBytes(bytes: Buffer): void {
    const size = this.gatt.mtu - 3;
    for (let off = 0; off < bytes.length; off += size) {
      this.ctl.sendAtt(this.peripheral, this.gatt.notification(this.notifyUuid, bytes.subarray(off, off + size)));
    }
  }

  /** Frames back to back in one byte stream, so notifications cut across frame boundaries. */
  sendFrames(frames: Buffer[]): void {
    this.sendBytes(Buffer.concat(frames.map((f) => this.encode(f))));
  }
}

export class EmulatedKissTnc extends EmulatedStreamDevice {
  constructor(ctl: HciControllerEmulator, opts: DeviceOptions) {
    super(ctl, KISS_UUIDS, opts);
  }

  protected encode(frame: Buffer): Buffer {
    const body: number[] = [0xc0, 0x00];
    for (const b of frame) {
      if (b === 0xc0) body.push(0xdb, 0xdc);
      else if (b === 0xdb) body.push(0xdb, 0xdd);
      else body.push(b);
    }
    body.push(0xc0);
    return Buffer.from(body);
  }

  protected extract(): Buffer[] {
    const out: Buffer[] = [];
    for (;;) {
      const start = this.rx.indexOf(0xc0);
      if (start < 0) {
        this.rx = Buffer.alloc(0);
        return out;
      }
      const end = this.rx.indexOf(0xc0, start + 1);
      if (end < 0) {
        this.rx = this.rx.subarray(start);
        return out;
      }
      const raw = this.rx.subarray(start + 1, end);
      this.rx = this.rx.subarray(end);
      if (raw.length === 0) continue;
      const data: number[] = [];
      for (let i = 1; i < raw.length; i++) {
        if (raw[i] === 0xdb) {
          i++;
          data.push(raw[i] === 0xdc ? 0xc0 : 0xdb);
        } else data.push(raw[i]);
      }
      if (raw[0] === 0x00) out.push(Buffer.from(data));
    }
  }
}

export class EmulatedNusDevice extends EmulatedStreamDevice {
  constructor(ctl: HciControllerEmulator, opts: DeviceOptions) {
    super(ctl, NUS_UUIDS, opts);
  }

  protected encode(frame: Buffer): Buffer {
    const head = Buffer.from([0xa5, frame.length >> 8, frame.length & 0xff]);
    const crc = crc16(Buffer.concat([head.subarray(1), frame]));
    return Buffer.concat([head, frame, Buffer.from([crc >> 8, crc & 0xff])]);
  }

  protected extract(): Buffer[] {
    const out: Buffer[] = [];
    while (this.rx.length >= 5) {
      if (this.rx[0] !== 0xa5) {
        this.errors.push(`stream out of sync: ${this.rx.toString('hex')}`);
        this.rx = this.rx.subarray(1);
        continue;
      }
      const len = this.rx.readUInt16BE(1);
      if (this.rx.length < len + 5) break;
      const crc = this.rx.readUInt16BE(3 + len);
      if (crc !== crc16(this.rx.subarray(1, 3 + len))) this.errors.push('bad CRC from central');
      else out.push(Buffer.from(this.rx.subarray(3, 3 + len)));
      this.rx = this.rx.subarray(len + 5);
    }
    return out;
  }
}
