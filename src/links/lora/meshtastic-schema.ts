// The few Meshtastic protobuf messages this driver needs, as .proto text parsed by protobufjs,
// written from the public definitions in meshtastic/protobufs (meshtastic/mesh.proto,
// config.proto, portnums.proto). Field numbers are the wire contract; names follow the .proto.
// Unknown fields (the many config messages a node sends) are skipped by the decoder.
import protobuf from 'protobufjs';
import { concatBytes } from '../../util/bytes.js';

/**
 * The messages as .proto text, field for field as upstream (enums as their uint32 wire form),
 * several fields to a line; protobufjs turns snake_case names into the camelCase the code uses.
 */
export const MESHTASTIC_PROTO = `
syntax = "proto3";
package meshtastic;
// mesh.proto Data (portnum is the PortNum enum).
message Data {
  uint32 portnum = 1; bytes payload = 2; bool want_response = 3;
  fixed32 dest = 4; fixed32 source = 5; fixed32 request_id = 6; fixed32 reply_id = 7; fixed32 emoji = 8; uint32 bitfield = 9;
}
// mesh.proto MeshPacket (priority is the Priority enum).
message MeshPacket {
  fixed32 from = 1; fixed32 to = 2; uint32 channel = 3;
  oneof payload_variant { Data decoded = 4; bytes encrypted = 5; }
  fixed32 id = 6; fixed32 rx_time = 7; float rx_snr = 8; uint32 hop_limit = 9; bool want_ack = 10; uint32 priority = 11; int32 rx_rssi = 12;
}
message MyNodeInfo { uint32 my_node_num = 1; }
message QueueStatus { int32 res = 1; uint32 free = 2; uint32 maxlen = 3; uint32 mesh_packet_id = 4; }
message Heartbeat { uint32 nonce = 1; }
message DeviceMetadata { string firmware_version = 1; }
// config.proto Config.LoRaConfig: the radio settings the node reports in its config dump
// (modem_preset and region are the ModemPreset and RegionCode enums).
message LoRaConfig {
  bool use_preset = 1; uint32 modem_preset = 2; uint32 bandwidth = 3; uint32 spread_factor = 4; uint32 coding_rate = 5;
  uint32 region = 7; uint32 hop_limit = 8; bool tx_enabled = 9; int32 tx_power = 10; uint32 channel_num = 11;
}
message Config { LoRaConfig lora = 6; }
message FromRadio {
  uint32 id = 1;
  oneof payload_variant {
    MeshPacket packet = 2; MyNodeInfo my_info = 3; Config config = 5; uint32 config_complete_id = 7; bool rebooted = 8;
    QueueStatus queueStatus = 11; DeviceMetadata metadata = 13;
  }
}
message ToRadio {
  oneof payload_variant { MeshPacket packet = 1; uint32 want_config_id = 3; bool disconnect = 4; Heartbeat heartbeat = 7; }
}
`;

/** PortNum.PRIVATE_APP: the port Meshtastic reserves for private applications. */
export const PRIVATE_APP = 256;
export const BROADCAST = 0xffffffff;
/** Serial API stream header. */
export const START1 = 0x94;
export const START2 = 0xc3;
/** The serial API's limit: a longer length field means corruption. */
export const MAX_TO_FROM_RADIO = 512;

const root = protobuf.parse(MESHTASTIC_PROTO).root;
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
    const joined = concatBytes(this.buf, chunk);
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
