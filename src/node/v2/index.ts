// BIP324 v2 P2P transport: a pure per-connection session plus its building blocks.
export { V2Session, KEY_LEN, type V2Role, type V2State, type V2SessionOptions, type V2ReceiveResult } from './session.js';
export { detectTransport, v1Prefix } from './detect.js';
export {
  PacketCipher,
  FSChaCha20,
  FSChaCha20Poly1305,
  deriveSessionKeys,
  MAX_CONTENTS_LEN,
  MAX_PAYLOAD_LEN,
  MAX_GARBAGE_LEN,
  PACKET_OVERHEAD,
  REKEY_INTERVAL,
  type SessionKeys,
  type AeadBackend,
} from './cipher.js';
export { SHORT_MESSAGE_IDS, encodeMessageContents, decodeMessageContents, type V2Message } from './messages.js';
export { ellswiftCreate, ellswiftDecode, v2Ecdh, type RandomBytes } from './ellswift.js';
export { V2Transport, type V2TransportOptions } from './transport.js';
