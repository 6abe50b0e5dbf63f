// A GATT server as a BLE peripheral runs it: an attribute table and the ATT requests a central
// uses to discover and use it (Core Spec Vol 3 Part F). Bytes in, bytes out; the controller
// emulator carries them over L2CAP CID 4.

export const ATT = {
  ERROR: 0x01,
  MTU_REQ: 0x02,
  MTU_RESP: 0x03,
  FIND_INFO_REQ: 0x04,
  FIND_INFO_RESP: 0x05,
  READ_BY_TYPE_REQ: 0x08,
  READ_BY_TYPE_RESP: 0x09,
  READ_REQ: 0x0a,
  READ_RESP: 0x0b,
  READ_BY_GROUP_REQ: 0x10,
  READ_BY_GROUP_RESP: 0x11,
  WRITE_REQ: 0x12,
  WRITE_RESP: 0x13,
  NOTIFY: 0x1b,
  WRITE_CMD: 0x52,
} as const;

const ECODE_INVALID_HANDLE = 0x01;
const ECODE_WRITE_NOT_PERMITTED = 0x03;
const ECODE_INVALID_PDU = 0x04;
const ECODE_REQ_NOT_SUPP = 0x06;
const ECODE_ATTR_NOT_FOUND = 0x0a;

const PRIMARY_SERVICE = 0x2800;
const CHARACTERISTIC = 0x2803;
const CCCD = 0x2902;

export const PROP = { READ: 0x02, WRITE_NO_RESP: 0x04, WRITE: 0x08, NOTIFY: 0x10 } as const;

/** UUID as the string noble prints ("2a00", "6e400001b5a3f393e0a9e50e24dcca9e") -> ATT bytes (LE). */
export function uuidBytes(uuid: string): Buffer {
  const hex = uuid.replace(/-/g, '').toLowerCase();
  if (hex.length !== 4 && hex.length !== 32) throw new Error(`bad uuid ${uuid}`);
  return Buffer.from(hex, 'hex').reverse();
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
}

interface Attribute {
  handle: number;
  type: Buffer;
  value: Buffer;
  /** Set on a characteristic's value attribute. */
  onWrite?: (data: Buffer, withResponse: boolean) => void;
  /** Set on a characteristic whose value is produced at each read (Meshtastic FromRadio). */
  onRead?: () => Buffer;
  writable?: boolean;
  /** Service group end, on service declarations. */
  groupEnd?: number;
}

export interface CharacteristicDef {
  uuid: string;
  properties: number;
  value?: Buffer;
  onWrite?: (data: Buffer, withResponse: boolean) => void;
  onRead?: () => Buffer;
}

export interface ServiceDef {
  uuid: string;
  characteristics: CharacteristicDef[];
}

export class AttServer {
  private readonly attrs: Attribute[] = [];
  private readonly valueHandles = new Map<string, number>();
  private readonly cccdHandles = new Map<number, number>();
  private readonly serverMtu: number;
  /** The MTU both sides use after Exchange MTU: min(client, server). */
  mtu = 23;
  readonly log: string[] = [];

  constructor(services: ServiceDef[], serverMtu: number) {
    this.serverMtu = serverMtu;
    let h = 1;
    for (const svc of services) {
      const decl: Attribute = { handle: h++, type: u16(PRIMARY_SERVICE), value: uuidBytes(svc.uuid) };
      this.attrs.push(decl);
      for (const ch of svc.characteristics) {
        const declHandle = h++;
        const valueHandle = h++;
        this.attrs.push({
          handle: declHandle,
          type: u16(CHARACTERISTIC),
          value: Buffer.concat([Buffer.from([ch.properties]), u16(valueHandle), uuidBytes(ch.uuid)]),
        });
        this.attrs.push({
          handle: valueHandle,
          type: uuidBytes(ch.uuid),
          value: ch.value ?? Buffer.alloc(0),
          onWrite: ch.onWrite,
          onRead: ch.onRead,
          writable: (ch.properties & (PROP.WRITE | PROP.WRITE_NO_RESP)) !== 0,
        });
        this.valueHandles.set(ch.uuid.replace(/-/g, '').toLowerCase(), valueHandle);
        if (ch.properties & PROP.NOTIFY) {
          const cccd = h++;
          this.attrs.push({ handle: cccd, type: u16(CCCD), value: Buffer.from([0, 0]), writable: true });
          this.cccdHandles.set(valueHandle, cccd);
        }
      }
      decl.groupEnd = h - 1;
    }
  }

  valueHandle(uuid: string): number {
    const h = this.valueHandles.get(uuid.replace(/-/g, '').toLowerCase());
    if (h === undefined) throw new Error(`no characteristic ${uuid}`);
    return h;
  }

  notificationsEnabled(uuid: string): boolean {
    const cccd = this.cccdHandles.get(this.valueHandle(uuid));
    const a = cccd === undefined ? undefined : this.attrs.find((x) => x.handle === cccd);
    return a !== undefined && (a.value[0] & 1) === 1;
  }

  /** A Handle Value Notification PDU for a characteristic. */
  notification(uuid: string, value: Buffer): Buffer {
    return Buffer.concat([Buffer.from([ATT.NOTIFY]), u16(this.valueHandle(uuid)), value]);
  }

  /** Resets per-connection state (MTU, subscriptions) as a new connection would. */
  resetConnection(): void {
    this.mtu = 23;
    for (const cccd of this.cccdHandles.values()) {
      const a = this.attrs.find((x) => x.handle === cccd);
      if (a) a.value = Buffer.from([0, 0]);
    }
  }

  /** One ATT PDU from the client; returns the response PDU, or null when none is due. */
  handle(pdu: Buffer): Buffer | null {
    if (pdu.length === 0) return null;
    const op = pdu[0];
    this.log.push(pdu.toString('hex'));
    const err = (handle: number, code: number): Buffer => Buffer.concat([Buffer.from([ATT.ERROR, op]), u16(handle), Buffer.from([code])]);
    switch (op) {
      case ATT.MTU_REQ: {
        if (pdu.length < 3) return err(0, ECODE_INVALID_PDU);
        const clientMtu = pdu.readUInt16LE(1);
        this.mtu = Math.max(23, Math.min(clientMtu, this.serverMtu));
        return Buffer.concat([Buffer.from([ATT.MTU_RESP]), u16(this.serverMtu)]);
      }
      case ATT.READ_BY_GROUP_REQ: {
        if (pdu.length < 7) return err(0, ECODE_INVALID_PDU);
        const start = pdu.readUInt16LE(1);
        const end = pdu.readUInt16LE(3);
        const type = pdu.subarray(5);
        if (!type.equals(u16(PRIMARY_SERVICE))) return err(start, 0x10 /* unsupported group type */);
        const found = this.attrs.filter((a) => a.handle >= start && a.handle <= end && a.type.equals(type));
        return (
          this.listResponse(ATT.READ_BY_GROUP_RESP, found, (a) => Buffer.concat([u16(a.handle), u16(a.groupEnd ?? a.handle), a.value])) ??
          err(start, ECODE_ATTR_NOT_FOUND)
        );
      }
      case ATT.READ_BY_TYPE_REQ: {
        if (pdu.length < 7) return err(0, ECODE_INVALID_PDU);
        const start = pdu.readUInt16LE(1);
        const end = pdu.readUInt16LE(3);
        const type = pdu.subarray(5);
        const found = this.attrs.filter((a) => a.handle >= start && a.handle <= end && a.type.equals(type));
        return (
          this.listResponse(ATT.READ_BY_TYPE_RESP, found, (a) => Buffer.concat([u16(a.handle), a.value])) ??
          err(start, ECODE_ATTR_NOT_FOUND)
        );
      }
      case ATT.FIND_INFO_REQ: {
        if (pdu.length < 5) return err(0, ECODE_INVALID_PDU);
        const start = pdu.readUInt16LE(1);
        const end = pdu.readUInt16LE(3);
        const found = this.attrs.filter((a) => a.handle >= start && a.handle <= end);
        if (found.length === 0) return err(start, ECODE_ATTR_NOT_FOUND);
        const format = found[0].type.length === 2 ? 1 : 2;
        const same = [];
        for (const a of found) {
          if (a.type.length !== found[0].type.length) break;
          same.push(a);
        }
        const entries: Buffer[] = [];
        let size = 2;
        for (const a of same) {
          const e = Buffer.concat([u16(a.handle), a.type]);
          if (size + e.length > this.mtu) break;
          entries.push(e);
          size += e.length;
        }
        return Buffer.concat([Buffer.from([ATT.FIND_INFO_RESP, format]), ...entries]);
      }
      case ATT.READ_REQ: {
        if (pdu.length < 3) return err(0, ECODE_INVALID_PDU);
        const a = this.attrs.find((x) => x.handle === pdu.readUInt16LE(1));
        if (!a) return err(pdu.readUInt16LE(1), ECODE_INVALID_HANDLE);
        const value = a.onRead ? a.onRead() : a.value;
        return Buffer.concat([Buffer.from([ATT.READ_RESP]), value.subarray(0, this.mtu - 1)]);
      }
      case ATT.WRITE_REQ:
      case ATT.WRITE_CMD: {
        const withResponse = op === ATT.WRITE_REQ;
        if (pdu.length < 3) return withResponse ? err(0, ECODE_INVALID_PDU) : null;
        const handle = pdu.readUInt16LE(1);
        const a = this.attrs.find((x) => x.handle === handle);
        if (!a) return withResponse ? err(handle, ECODE_INVALID_HANDLE) : null;
        if (!a.writable) return withResponse ? err(handle, ECODE_WRITE_NOT_PERMITTED) : null;
        const data = Buffer.from(pdu.subarray(3));
        if (a.onWrite) a.onWrite(data, withResponse);
        else a.value = data;
        return withResponse ? Buffer.from([ATT.WRITE_RESP]) : null;
      }
      default:
        // Commands (bit 6 set) and confirmations never get a response.
        if (op & 0x40) return null;
        return err(0, ECODE_REQ_NOT_SUPP);
    }
  }

  /** Read By Type / Read By Group Type: entries of equal length that fit in one PDU. */
  private listResponse(op: number, found: Attribute[], entry: (a: Attribute) => Buffer): Buffer | null {
    if (found.length === 0) return null;
    const first = entry(found[0]);
    const len = Math.min(first.length, this.mtu - 2, 255);
    const entries: Buffer[] = [];
    let size = 2;
    for (const a of found) {
      const e = entry(a);
      if (e.length !== first.length || size + len > this.mtu) break;
      entries.push(e.subarray(0, len));
      size += len;
    }
    return Buffer.concat([Buffer.from([op, len]), ...entries]);
  }
}
