// The few Meshtastic protobuf messages this driver needs, as protobufjs JSON, written from the
// public definitions in meshtastic/protobufs (meshtastic/mesh.proto, portnums.proto). Field
// numbers are the wire contract; names follow the .proto. Unknown fields (the many config
// messages a node sends) are skipped by the decoder.
import protobuf from 'protobufjs';

export const MESHTASTIC_SCHEMA = {
  nested: {
    meshtastic: {
      nested: {
        Data: {
          fields: {
            portnum: { type: 'uint32', id: 1 },
            payload: { type: 'bytes', id: 2 },
            wantResponse: { type: 'bool', id: 3 },
            dest: { type: 'fixed32', id: 4 },
            source: { type: 'fixed32', id: 5 },
            requestId: { type: 'fixed32', id: 6 },
            replyId: { type: 'fixed32', id: 7 },
            emoji: { type: 'fixed32', id: 8 },
            bitfield: { type: 'uint32', id: 9 },
          },
        },
        MeshPacket: {
          oneofs: { payloadVariant: { oneof: ['decoded', 'encrypted'] } },
          fields: {
            from: { type: 'fixed32', id: 1 },
            to: { type: 'fixed32', id: 2 },
            channel: { type: 'uint32', id: 3 },
            decoded: { type: 'Data', id: 4 },
            encrypted: { type: 'bytes', id: 5 },
            id: { type: 'fixed32', id: 6 },
            rxTime: { type: 'fixed32', id: 7 },
            rxSnr: { type: 'float', id: 8 },
            hopLimit: { type: 'uint32', id: 9 },
            wantAck: { type: 'bool', id: 10 },
            priority: { type: 'uint32', id: 11 },
            rxRssi: { type: 'int32', id: 12 },
          },
        },
        MyNodeInfo: { fields: { myNodeNum: { type: 'uint32', id: 1 } } },
        QueueStatus: {
          fields: {
            res: { type: 'int32', id: 1 },
            free: { type: 'uint32', id: 2 },
            maxlen: { type: 'uint32', id: 3 },
            meshPacketId: { type: 'uint32', id: 4 },
          },
        },
        Heartbeat: { fields: { nonce: { type: 'uint32', id: 1 } } },
        // mesh.proto DeviceMetadata (firmware_version = 1).
        DeviceMetadata: { fields: { firmwareVersion: { type: 'string', id: 1 } } },
        // config.proto Config.LoRaConfig: the radio settings the node reports in its config dump.
        LoRaConfig: {
          fields: {
            usePreset: { type: 'bool', id: 1 },
            modemPreset: { type: 'uint32', id: 2 },
            bandwidth: { type: 'uint32', id: 3 },
            spreadFactor: { type: 'uint32', id: 4 },
            codingRate: { type: 'uint32', id: 5 },
            region: { type: 'uint32', id: 7 },
            hopLimit: { type: 'uint32', id: 8 },
            txEnabled: { type: 'bool', id: 9 },
            txPower: { type: 'int32', id: 10 },
            channelNum: { type: 'uint32', id: 11 },
          },
        },
        Config: { fields: { lora: { type: 'LoRaConfig', id: 6 } } },
        FromRadio: {
          oneofs: { payloadVariant: { oneof: ['packet', 'myInfo', 'config', 'configCompleteId', 'rebooted', 'queueStatus', 'metadata'] } },
          fields: {
            id: { type: 'uint32', id: 1 },
            packet: { type: 'MeshPacket', id: 2 },
            myInfo: { type: 'MyNodeInfo', id: 3 },
            config: { type: 'Config', id: 5 },
            configCompleteId: { type: 'uint32', id: 7 },
            rebooted: { type: 'bool', id: 8 },
            queueStatus: { type: 'QueueStatus', id: 11 },
            metadata: { type: 'DeviceMetadata', id: 13 },
          },
        },
        ToRadio: {
          oneofs: { payloadVariant: { oneof: ['packet', 'wantConfigId', 'disconnect', 'heartbeat'] } },
          fields: {
            packet: { type: 'MeshPacket', id: 1 },
            wantConfigId: { type: 'uint32', id: 3 },
            disconnect: { type: 'bool', id: 4 },
            heartbeat: { type: 'Heartbeat', id: 7 },
          },
        },
      },
    },
  },
};

/** PortNum.PRIVATE_APP: the port Meshtastic reserves for private applications. */
export const PRIVATE_APP = 256;
export const BROADCAST = 0xffffffff;
/** Serial API stream header. */
export const START1 = 0x94;
export const START2 = 0xc3;
/** The serial API's limit: a longer length field means corruption. */
export const MAX_TO_FROM_RADIO = 512;

const root = protobuf.Root.fromJSON(MESHTASTIC_SCHEMA);
export const ToRadio = root.lookupType('meshtastic.ToRadio');
export const FromRadio = root.lookupType('meshtastic.FromRadio');

export interface MeshData {
  portnum?: number;
  payload?: Uint8Array;
}
export interface MeshPacketMsg {
  from?: number;
  to?: number;
  channel?: number;
  decoded?: MeshData;
  encrypted?: Uint8Array;
  id?: number;
  hopLimit?: number;
  wantAck?: boolean;
}
export interface MeshLoraConfig {
  usePreset?: boolean;
  modemPreset?: number;
  bandwidth?: number;
  spreadFactor?: number;
  codingRate?: number;
  region?: number;
  hopLimit?: number;
  txEnabled?: boolean;
  txPower?: number;
  channelNum?: number;
}

/** config.proto LoRaConfig.RegionCode and ModemPreset names (enum numbers are the wire contract). */
export const MESH_REGIONS = [
  'UNSET',
  'US',
  'EU_433',
  'EU_868',
  'CN',
  'JP',
  'ANZ',
  'KR',
  'TW',
  'RU',
  'IN',
  'NZ_865',
  'TH',
  'LORA_24',
  'UA_433',
  'UA_868',
  'MY_433',
  'MY_919',
  'SG_923',
];
export const MESH_PRESETS = [
  'LONG_FAST',
  'LONG_SLOW',
  'VERY_LONG_SLOW',
  'MEDIUM_SLOW',
  'MEDIUM_FAST',
  'SHORT_SLOW',
  'SHORT_FAST',
  'LONG_MODERATE',
  'SHORT_TURBO',
];

export interface FromRadioMsg {
  id?: number;
  packet?: MeshPacketMsg;
  myInfo?: { myNodeNum?: number };
  configCompleteId?: number;
  rebooted?: boolean;
  queueStatus?: { res?: number; free?: number; maxlen?: number; meshPacketId?: number };
  metadata?: { firmwareVersion?: string };
  config?: { lora?: MeshLoraConfig };
}
export interface ToRadioMsg {
  packet?: MeshPacketMsg;
  wantConfigId?: number;
  disconnect?: boolean;
  heartbeat?: { nonce?: number };
}

export function encodeToRadio(m: ToRadioMsg): Uint8Array {
  return ToRadio.encode(ToRadio.fromObject(m)).finish();
}
export function decodeToRadio(b: Uint8Array): ToRadioMsg {
  return ToRadio.toObject(ToRadio.decode(b)) as ToRadioMsg;
}
export function encodeFromRadio(m: FromRadioMsg): Uint8Array {
  return FromRadio.encode(FromRadio.fromObject(m)).finish();
}
export function decodeFromRadio(b: Uint8Array): FromRadioMsg {
  return FromRadio.toObject(FromRadio.decode(b)) as FromRadioMsg;
}

/** Wraps one protobuf in the serial stream header: 94 C3 len_hi len_lo. */
export function frameStream(pb: Uint8Array): Uint8Array {
  if (pb.length > MAX_TO_FROM_RADIO) throw new RangeError(`Meshtastic stream packet of ${pb.length} bytes exceeds ${MAX_TO_FROM_RADIO}`);
  const out = new Uint8Array(4 + pb.length);
  out[0] = START1;
  out[1] = START2;
  out[2] = pb.length >> 8;
  out[3] = pb.length & 0xff;
  out.set(pb, 4);
  return out;
}

/**
 * Splits the serial stream into protobuf packets. Bytes outside frames are the node's debug
 * console (text); a length over 512 means we locked onto noise and resynchronise.
 */
export class MeshtasticStreamDecoder {
  private buf = new Uint8Array(0);

  constructor(private readonly onNoise?: (code: 'mesh-console-bytes' | 'mesh-bad-length', n: number) => void) {}

  push(chunk: Uint8Array): Uint8Array[] {
    const joined = new Uint8Array(this.buf.length + chunk.length);
    joined.set(this.buf);
    joined.set(chunk, this.buf.length);
    const out: Uint8Array[] = [];
    let i = 0;
    let skipped = 0;
    while (i < joined.length) {
      if (joined[i] !== START1) {
        i++;
        skipped++;
        continue;
      }
      if (i + 1 >= joined.length) break;
      if (joined[i + 1] !== START2) {
        i++;
        skipped++;
        continue;
      }
      if (i + 4 > joined.length) break;
      const len = (joined[i + 2] << 8) | joined[i + 3];
      if (len > MAX_TO_FROM_RADIO) {
        this.onNoise?.('mesh-bad-length', len);
        i++;
        continue;
      }
      if (i + 4 + len > joined.length) break;
      out.push(joined.slice(i + 4, i + 4 + len));
      i += 4 + len;
    }
    if (skipped) this.onNoise?.('mesh-console-bytes', skipped);
    this.buf = joined.slice(i);
    return out;
  }
}
