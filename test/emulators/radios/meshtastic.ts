// A Meshtastic node on its serial ("stream") API, written from meshtastic/protobufs
// (meshtastic/mesh.proto: ToRadio, FromRadio, MeshPacket, Data, MyNodeInfo, QueueStatus,
// DeviceMetadata; config.proto: Config.LoRaConfig; portnums.proto: PRIVATE_APP = 256), the
// Meshtastic "Client API (serial)" page (0x94 0xC3, 16-bit big-endian length, max 512) and
// meshtastic/python (StreamInterface, mesh_interface: want_config_id -> config_complete_id).
// On air it follows the firmware's RadioInterface.h PacketHeader (16 bytes: to, from, id,
// flags, channel hash, next hop, relay node; little-endian) and CryptoEngine (AES-CTR with the
// channel key, nonce = packet id (64-bit LE) + sender (32-bit LE) + 0). LongFast preset:
// SF11, 250 kHz, 4/5, preamble 16, sync word 0x2B (RadioLibInterface / meshtastic docs
// "Radio Settings"). Imports nothing from src/.
import { createCipheriv } from 'node:crypto';
import { RadioDevice, type Phy } from './device.js';

const START1 = 0x94;
const START2 = 0xc3;
const MAX_LEN = 512;
export const PRIVATE_APP = 256;
const BROADCAST = 0xffffffff;
/** channels.proto: psk index 1 = the default key "AQ==" expands to this (Channels.cpp defaultpsk). */
const DEFAULT_PSK = Uint8Array.of(0xd4, 0xf1, 0xbb, 0x3a, 0x20, 0x29, 0x07, 0x59, 0xf0, 0xbc, 0xff, 0xab, 0xcf, 0x4e, 0x69, 0x01);

// ---- minimal protobuf (wire types 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32) ----
type Field = { n: number; wt: number; v: number | Uint8Array };

function readFields(b: Uint8Array): Field[] {
  const out: Field[] = [];
  let i = 0;
  const varint = (): number => {
    let r = 0;
    let s = 0;
    for (;;) {
      if (i >= b.length) throw new Error('truncated varint');
      const x = b[i++];
      r += (x & 0x7f) * 2 ** s;
      s += 7;
      if (!(x & 0x80)) return r;
    }
  };
  while (i < b.length) {
    const key = varint();
    const n = Math.floor(key / 8);
    const wt = key & 7;
    if (wt === 0) out.push({ n, wt, v: varint() });
    else if (wt === 5) {
      out.push({ n, wt, v: new DataView(b.buffer, b.byteOffset + i, 4).getUint32(0, true) });
      i += 4;
    } else if (wt === 1) i += 8;
    else if (wt === 2) {
      const len = varint();
      out.push({ n, wt, v: b.slice(i, i + len) });
      i += len;
    } else throw new Error(`wire type ${wt}`);
  }
  return out;
}

function varintBytes(v: number): number[] {
  const o: number[] = [];
  do {
    let x = v % 128;
    v = Math.floor(v / 128);
    if (v) x |= 0x80;
    o.push(x);
  } while (v);
  return o;
}
const pbVarint = (n: number, v: number) => [...varintBytes(n * 8), ...varintBytes(v)];
const pbFixed32 = (n: number, v: number) => [...varintBytes(n * 8 + 5), v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const pbBytes = (n: number, b: Uint8Array | number[]) => [...varintBytes(n * 8 + 2), ...varintBytes(b.length), ...b];

const get = (f: Field[], n: number) => f.find((x) => x.n === n)?.v;

function frame(pb: number[]): Uint8Array {
  return Uint8Array.from([START1, START2, pb.length >> 8, pb.length & 0xff, ...pb]);
}

function xorHash(b: Uint8Array): number {
  return b.reduce((h, x) => h ^ x, 0);
}

export class MeshtasticEmulator extends RadioDevice {
  readonly nodeNum: number;
  firmwareVersion = '2.5.20.4c97351';
  region: 'EU_868' | 'US' = 'EU_868';
  /** Packets to leave unconfirmed (no QueueStatus): a stalled node. */
  stallPackets = 0;
  /** ToRadio messages as decoded (for assertions). */
  readonly toRadio: {
    wantConfigId?: number;
    packet?: { to: number; id: number; portnum?: number; payload?: Uint8Array };
    heartbeat?: boolean;
  }[] = [];
  private buf: number[] = [];
  private fromId = 1;
  private readonly channelName = 'LongFast';

  constructor(nodeNum: number) {
    super();
    this.nodeNum = nodeNum >>> 0;
  }

  private out(pb: number[]): void {
    this.toHost(frame([...pbVarint(1, this.fromId++), ...pb]));
  }

  /** Stream framing: resync on START1 START2, drop a length over 512 (Client API, serial). */
  protected onHostBytes(chunk: Uint8Array): void {
    this.buf.push(...chunk);
    for (;;) {
      const s = this.buf.findIndex((x, i) => x === START1 && this.buf[i + 1] === START2);
      if (s < 0) {
        this.buf = this.buf.slice(-1);
        return;
      }
      this.buf = this.buf.slice(s);
      if (this.buf.length < 4) return;
      const len = (this.buf[2] << 8) | this.buf[3];
      if (len > MAX_LEN) {
        this.buf = this.buf.slice(2);
        continue;
      }
      if (this.buf.length < 4 + len) return;
      const pb = Uint8Array.from(this.buf.slice(4, 4 + len));
      this.buf = this.buf.slice(4 + len);
      this.toRadioMsg(pb);
    }
  }

  private toRadioMsg(pb: Uint8Array): void {
    let f: Field[];
    try {
      f = readFields(pb);
    } catch {
      return;
    }
    const want = get(f, 3);
    if (typeof want === 'number') {
      this.toRadio.push({ wantConfigId: want });
      return this.sendConfig(want);
    }
    if (get(f, 7) !== undefined) {
      this.toRadio.push({ heartbeat: true });
      return;
    }
    const p = get(f, 1);
    if (p instanceof Uint8Array) {
      const mp = readFields(p);
      const d = get(mp, 4);
      const data = d instanceof Uint8Array ? readFields(d) : [];
      const payload = get(data, 2);
      const packet = {
        to: (get(mp, 2) as number) ?? 0,
        id: (get(mp, 6) as number) ?? 0,
        portnum: get(data, 1) as number | undefined,
        payload: payload instanceof Uint8Array ? payload : undefined,
      };
      this.toRadio.push({ packet });
      if (this.stallPackets > 0) {
        this.stallPackets--;
        return;
      }
      // FromRadio.queueStatus (11): res 0, free, maxlen, mesh_packet_id
      this.out(pbBytes(11, [...pbVarint(1, 0), ...pbVarint(2, 15), ...pbVarint(3, 16), ...pbVarint(4, packet.id)]));
      // Router.cpp send(): packets the node originates get Data.bitfield (9) with OK_TO_MQTT.
      if (d instanceof Uint8Array)
        this.transmitPacket(packet.to, packet.id, Uint8Array.from([...d, ...pbVarint(9, 1)]), (get(mp, 9) as number) ?? 3);
    }
  }

  /** want_config_id: my_info, metadata, config.lora, then config_complete_id with the same nonce. */
  private sendConfig(nonce: number): void {
    this.toHost('INFO  | 12:00:00 1 [Main] Client wants config\r\n'); // debug console text on the same port
    this.out(pbBytes(3, pbVarint(1, this.nodeNum))); // my_info.my_node_num
    this.out(pbBytes(13, pbBytes(1, [...Buffer.from(this.firmwareVersion)]))); // metadata.firmware_version
    // config (5) { lora (6) { use_preset 1, modem_preset 0 LONG_FAST, region 3 EU_868 / 1 US, hop_limit 3, tx_enabled } }
    const lora = [
      ...pbVarint(1, 1),
      ...pbVarint(2, 0),
      ...pbVarint(7, this.region === 'EU_868' ? 3 : 1),
      ...pbVarint(8, 3),
      ...pbVarint(9, 1),
    ];
    this.out(pbBytes(5, pbBytes(6, lora)));
    this.out(pbVarint(7, nonce));
  }

  phy(): Phy {
    return {
      frequencyHz: this.region === 'EU_868' ? 869_525_000 : 906_875_000,
      sf: 11,
      bandwidthHz: 250_000,
      codingRate: 5,
      syncWord: 0x2b,
      preambleSymbols: 16,
      crc: true,
      explicitHeader: true,
      invertIq: false,
      lowDataRateOptimize: false,
    };
  }

  listening(): Phy {
    return this.phy();
  }

  private channelHash(): number {
    return xorHash(Buffer.from(this.channelName)) ^ xorHash(DEFAULT_PSK);
  }

  private crypt(id: number, from: number, data: Uint8Array): Uint8Array {
    const nonce = Buffer.alloc(16);
    nonce.writeUInt32LE(id >>> 0, 0);
    nonce.writeUInt32LE(from >>> 0, 8);
    const c = createCipheriv('aes-128-ctr', DEFAULT_PSK, nonce);
    return new Uint8Array(Buffer.concat([c.update(data), c.final()]));
  }

  private transmitPacket(to: number, id: number, data: Uint8Array, hopLimit: number): void {
    const h = Buffer.alloc(16);
    h.writeUInt32LE(to >>> 0, 0);
    h.writeUInt32LE(this.nodeNum, 4);
    h.writeUInt32LE(id >>> 0, 8);
    h[12] = (hopLimit & 7) | ((hopLimit & 7) << 5); // hop_limit, hop_start
    h[13] = this.channelHash();
    this.transmit(this.phy(), new Uint8Array(Buffer.concat([h, this.crypt(id, this.nodeNum, data)])));
  }

  receive(bytes: Uint8Array): void {
    if (bytes.length < 16) return;
    const h = Buffer.from(bytes.subarray(0, 16));
    if (h[13] !== this.channelHash()) return;
    const to = h.readUInt32LE(0);
    const from = h.readUInt32LE(4);
    const id = h.readUInt32LE(8);
    const data = this.crypt(id, from, bytes.subarray(16));
    // FromRadio.packet (2): MeshPacket { from, to, decoded, id, rx_snr omitted, hop_limit }
    const mp = [...pbFixed32(1, from), ...pbFixed32(2, to), ...pbBytes(4, data), ...pbFixed32(6, id), ...pbVarint(9, h[12] & 7)];
    this.out(pbBytes(2, mp));
  }

  /** Host-side test helper: a packet from another node, as the node reports it to its client. */
  injectFromMesh(payload: Uint8Array, from = 0x1234abcd): void {
    const data = [...pbVarint(1, PRIVATE_APP), ...pbBytes(2, payload)];
    this.out(
      pbBytes(2, [...pbFixed32(1, from), ...pbFixed32(2, BROADCAST), ...pbBytes(4, data), ...pbFixed32(6, this.fromId), ...pbVarint(9, 2)]),
    );
  }

  /** FromRadio.rebooted (8). */
  reboot(): void {
    this.out(pbVarint(8, 1));
  }
}
