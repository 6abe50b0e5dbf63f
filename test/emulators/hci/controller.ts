// An HCI controller on the far end of a UART (H4 framing: 0x01 command, 0x02 ACL, 0x04 event),
// enough of one for a real host stack (noble) to bring it up, scan, connect and use GATT.
// It logs every command the host sends so unknown ones show up instead of hanging the host.
import type { SerialPort } from 'serialport';
import { closeFarEnd, openFarEnd } from '../pty.js';
import { AttServer } from './att-server.js';

const H4_COMMAND = 0x01;
const H4_ACL = 0x02;
const H4_EVENT = 0x04;

const EVT_DISCONN_COMPLETE = 0x05;
const EVT_CMD_COMPLETE = 0x0e;
const EVT_CMD_STATUS = 0x0f;
const EVT_NUM_COMPLETED_PACKETS = 0x13;
const EVT_LE_META = 0x3e;
const LE_CONN_COMPLETE = 0x01;
const LE_ADV_REPORT = 0x02;

const ATT_CID = 0x0004;

export const OPCODES: Record<number, string> = {
  0x0406: 'Disconnect',
  0x0c01: 'Set Event Mask',
  0x0c03: 'Reset',
  0x0c05: 'Set Event Filter',
  0x0c6c: 'Read LE Host Supported',
  0x0c6d: 'Write LE Host Supported',
  0x1001: 'Read Local Version',
  0x1002: 'Read Local Supported Commands',
  0x1005: 'Read Buffer Size',
  0x1009: 'Read BD ADDR',
  0x1405: 'Read RSSI',
  0x2001: 'LE Set Event Mask',
  0x2002: 'LE Read Buffer Size',
  0x2003: 'LE Read Local Supported Features',
  0x200b: 'LE Set Scan Parameters',
  0x200c: 'LE Set Scan Enable',
  0x200d: 'LE Create Connection',
  0x200e: 'LE Create Connection Cancel',
  0x2013: 'LE Connection Update',
};

export interface EmulatedPeripheral {
  /** "aa:bb:cc:dd:ee:ff" */
  address: string;
  addressType: 'public' | 'random';
  name: string;
  /** 128-bit service UUID advertised (hex, dashes allowed). */
  advertisedService: string;
  gatt: AttServer;
  /** Accepts connections; false makes LE Create Connection hang until cancelled. */
  connectable: boolean;
  onConnect?(): void;
  onDisconnect?(): void;
}

export interface ControllerOptions {
  path: string;
  address?: string;
  /** LE ACL data packet length the controller reports; 27 is the LE minimum. */
  aclLength?: number;
  aclCount?: number;
  /** Interval between advertising reports while the host scans. */
  advIntervalMs?: number;
}

interface Connection {
  handle: number;
  peripheral: EmulatedPeripheral;
  rx: { cid: number; length: number; data: Buffer } | null;
}

function addrBytes(address: string): Buffer {
  return Buffer.from(address.replace(/:/g, ''), 'hex').reverse();
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
}

export class HciControllerEmulator {
  readonly commands: string[] = [];
  readonly unknownCommands: string[] = [];
  readonly peripherals: EmulatedPeripheral[] = [];
  connectRequests = 0;
  private port: SerialPort | null = null;
  private buf = Buffer.alloc(0);
  private scanning = false;
  private advTimer: NodeJS.Timeout | null = null;
  private pendingConnect: { address: string } | null = null;
  private readonly connections = new Map<number, Connection>();
  private nextHandle = 0x0040;
  private readonly address: string;
  private readonly aclLength: number;
  private readonly aclCount: number;
  private readonly advIntervalMs: number;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly opts: ControllerOptions) {
    this.address = opts.address ?? '00:1a:7d:da:71:13';
    this.aclLength = opts.aclLength ?? 27;
    this.aclCount = opts.aclCount ?? 4;
    this.advIntervalMs = opts.advIntervalMs ?? 50;
  }

  async open(): Promise<void> {
    this.port = await openFarEnd(this.opts.path, 1_000_000, (d) => this.onBytes(d));
  }

  async close(): Promise<void> {
    if (this.advTimer) clearInterval(this.advTimer);
    this.advTimer = null;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const port = this.port;
    this.port = null;
    await closeFarEnd(port);
  }

  addPeripheral(p: EmulatedPeripheral): void {
    this.peripherals.push(p);
  }

  isConnected(p: EmulatedPeripheral): boolean {
    return [...this.connections.values()].some((c) => c.peripheral === p);
  }

  /** The link drops from the peripheral's side (supervision timeout, peer power loss). */
  dropConnection(p: EmulatedPeripheral, reason = 0x08 /* connection timeout */): void {
    for (const c of this.connections.values()) {
      if (c.peripheral === p) this.endConnection(c, reason);
    }
  }

  /** Sends an ATT PDU from the peripheral to the host (notifications). */
  sendAtt(p: EmulatedPeripheral, pdu: Buffer): void {
    for (const c of this.connections.values()) {
      if (c.peripheral === p) this.sendL2cap(c.handle, ATT_CID, pdu);
    }
  }

  /** Raw bytes on the UART, for hostile-controller tests. */
  writeRaw(bytes: Buffer): void {
    this.port?.write(bytes);
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private onBytes(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      if (this.buf.length === 0) return;
      const type = this.buf[0];
      if (type === H4_COMMAND) {
        if (this.buf.length < 4) return;
        const len = 4 + this.buf[3];
        if (this.buf.length < len) return;
        const pkt = this.buf.subarray(0, len);
        this.buf = this.buf.subarray(len);
        this.onCommand(pkt.readUInt16LE(1), Buffer.from(pkt.subarray(4)));
      } else if (type === H4_ACL) {
        if (this.buf.length < 5) return;
        const len = 5 + this.buf.readUInt16LE(3);
        if (this.buf.length < len) return;
        const pkt = Buffer.from(this.buf.subarray(0, len));
        this.buf = this.buf.subarray(len);
        this.onAcl(pkt);
      } else {
        // A UART host never sends events; resynchronise by dropping the byte.
        this.buf = this.buf.subarray(1);
      }
    }
  }

  private send(bytes: Buffer): void {
    this.port?.write(bytes);
  }

  private event(code: number, params: Buffer): void {
    this.send(Buffer.concat([Buffer.from([H4_EVENT, code, params.length]), params]));
  }

  private complete(opcode: number, ret: Buffer): void {
    this.event(EVT_CMD_COMPLETE, Buffer.concat([Buffer.from([1]), u16(opcode), ret]));
  }

  private status(opcode: number, status: number): void {
    this.event(EVT_CMD_STATUS, Buffer.concat([Buffer.from([status, 1]), u16(opcode)]));
  }

  private leMeta(sub: number, params: Buffer): void {
    this.event(EVT_LE_META, Buffer.concat([Buffer.from([sub]), params]));
  }

  private onCommand(opcode: number, p: Buffer): void {
    const name = OPCODES[opcode] ?? `unknown 0x${opcode.toString(16).padStart(4, '0')}`;
    this.commands.push(name);
    const ok = Buffer.from([0]);
    switch (opcode) {
      case 0x0c03: // Reset
        this.setScanning(false);
        this.pendingConnect = null;
        this.complete(opcode, ok);
        return;
      case 0x0c01:
      case 0x0c05:
      case 0x2001:
      case 0x0c6d:
        this.complete(opcode, ok);
        return;
      case 0x0c6c:
        this.complete(opcode, Buffer.from([0, 1, 0]));
        return;
      case 0x1001: // HCI 5.0, revision, LMP 5.0, manufacturer 0x05f1 (Linux Foundation), subversion
        this.complete(opcode, Buffer.concat([ok, Buffer.from([0x09]), u16(0x0001), Buffer.from([0x09]), u16(0x05f1), u16(0x0001)]));
        return;
      case 0x1002:
        this.complete(opcode, Buffer.concat([ok, Buffer.alloc(64)]));
        return;
      case 0x1009:
        this.complete(opcode, Buffer.concat([ok, addrBytes(this.address)]));
        return;
      case 0x1005:
        this.complete(opcode, Buffer.concat([ok, u16(this.aclLength), Buffer.from([0]), u16(this.aclCount), u16(0)]));
        return;
      case 0x2002:
        this.complete(opcode, Buffer.concat([ok, u16(this.aclLength), Buffer.from([this.aclCount])]));
        return;
      case 0x2003: // no extended advertising, no data length extension: the legacy command set
        this.complete(opcode, Buffer.concat([ok, Buffer.alloc(8)]));
        return;
      case 0x200b:
        this.complete(opcode, ok);
        return;
      case 0x200c:
        this.setScanning(p[0] === 1);
        this.complete(opcode, ok);
        return;
      case 0x200d: {
        this.connectRequests++;
        const peerAddress = [...p.subarray(6, 12)]
          .reverse()
          .map((b) => b.toString(16).padStart(2, '0'))
          .join(':');
        this.status(opcode, 0);
        this.pendingConnect = { address: peerAddress };
        const peripheral = this.peripherals.find((x) => x.address === peerAddress && x.connectable);
        if (peripheral) this.later(5, () => this.completeConnect(peripheral));
        return;
      }
      case 0x200e:
        this.complete(opcode, ok);
        if (this.pendingConnect) {
          this.pendingConnect = null;
          // LE Connection Complete with Unknown Connection Identifier ends the cancelled attempt.
          this.leMeta(LE_CONN_COMPLETE, Buffer.concat([Buffer.from([0x02]), Buffer.alloc(17)]));
        }
        return;
      case 0x0406: {
        const handle = p.readUInt16LE(0) & 0x0fff;
        this.status(opcode, this.connections.has(handle) ? 0 : 0x02);
        const c = this.connections.get(handle);
        if (c) this.later(2, () => this.endConnection(c, 0x16 /* local host terminated */));
        return;
      }
      case 0x2013: {
        this.status(opcode, 0);
        return;
      }
      case 0x1405: {
        const handle = p.readUInt16LE(0);
        this.complete(opcode, Buffer.concat([ok, u16(handle), Buffer.from([0xc4])]));
        return;
      }
      default:
        this.unknownCommands.push(name);
        this.complete(opcode, Buffer.from([0x01])); // Unknown HCI Command
    }
  }

  private setScanning(on: boolean): void {
    this.scanning = on;
    if (on && !this.advTimer) {
      this.advertise();
      this.advTimer = setInterval(() => this.advertise(), this.advIntervalMs);
    } else if (!on && this.advTimer) {
      clearInterval(this.advTimer);
      this.advTimer = null;
    }
  }

  private advertise(): void {
    if (!this.scanning) return;
    for (const p of this.peripherals) {
      if (this.isConnected(p)) continue;
      const name = Buffer.from(p.name, 'utf8');
      const adv = Buffer.concat([
        Buffer.from([2, 0x01, 0x06]),
        Buffer.from([17, 0x07]),
        Buffer.from(p.advertisedService.replace(/-/g, ''), 'hex').reverse(),
      ]);
      const scanRsp = Buffer.concat([Buffer.from([name.length + 1, 0x09]), name]);
      for (const [type, data] of [
        [0x00, adv],
        [0x04, scanRsp],
      ] as const) {
        this.leMeta(
          LE_ADV_REPORT,
          Buffer.concat([
            Buffer.from([1, type, p.addressType === 'random' ? 1 : 0]),
            addrBytes(p.address),
            Buffer.from([data.length]),
            data,
            Buffer.from([0xc8]), // rssi -56
          ]),
        );
      }
    }
  }

  private completeConnect(p: EmulatedPeripheral): void {
    if (!this.pendingConnect || this.pendingConnect.address !== p.address) return;
    this.pendingConnect = null;
    const handle = this.nextHandle++;
    this.connections.set(handle, { handle, peripheral: p, rx: null });
    p.gatt.resetConnection();
    this.leMeta(
      LE_CONN_COMPLETE,
      Buffer.concat([
        Buffer.from([0]),
        u16(handle),
        Buffer.from([0x00, p.addressType === 'random' ? 1 : 0]),
        addrBytes(p.address),
        u16(0x0018),
        u16(0),
        u16(0x002a),
        Buffer.from([0]),
      ]),
    );
    p.onConnect?.();
  }

  private endConnection(c: Connection, reason: number): void {
    if (!this.connections.delete(c.handle)) return;
    this.event(EVT_DISCONN_COMPLETE, Buffer.concat([Buffer.from([0]), u16(c.handle), Buffer.from([reason])]));
    c.peripheral.onDisconnect?.();
  }

  private onAcl(pkt: Buffer): void {
    const hf = pkt.readUInt16LE(1);
    const handle = hf & 0x0fff;
    const pb = (hf >> 12) & 0x3;
    const data = pkt.subarray(5);
    const c = this.connections.get(handle);
    // Every ACL packet the host sends frees one controller buffer.
    this.event(EVT_NUM_COMPLETED_PACKETS, Buffer.concat([Buffer.from([1]), u16(handle), u16(1)]));
    if (!c) return;
    if (pb === 0x00 || pb === 0x02) {
      if (data.length < 4) return;
      c.rx = { length: data.readUInt16LE(0), cid: data.readUInt16LE(2), data: Buffer.from(data.subarray(4)) };
    } else if (pb === 0x01 && c.rx) {
      c.rx.data = Buffer.concat([c.rx.data, data]);
    } else {
      return;
    }
    if (c.rx && c.rx.data.length >= c.rx.length) {
      const { cid, data: sdu } = c.rx;
      c.rx = null;
      if (cid === ATT_CID) {
        const rsp = c.peripheral.gatt.handle(sdu);
        if (rsp) this.sendL2cap(handle, ATT_CID, rsp);
      }
    }
  }

  /** L2CAP basic frame to the host, split into ACL packets of the controller's buffer size. */
  private sendL2cap(handle: number, cid: number, sdu: Buffer): void {
    const frame = Buffer.concat([u16(sdu.length), u16(cid), sdu]);
    for (let off = 0; off < frame.length; off += this.aclLength) {
      const part = frame.subarray(off, off + this.aclLength);
      const pb = off === 0 ? 0x02 : 0x01;
      this.send(Buffer.concat([Buffer.from([H4_ACL]), u16(handle | (pb << 12)), u16(part.length), part]));
    }
  }
}
