// A connection's message layer: v1 framing, or BIP324 v2 once a session is plugged in.
// Both turn received bytes into messages (plus bytes to send back, for v2's handshake).
import { encodeV1Message, V1Decoder, type P2PMessage } from './wire.js';
import { concatBytes, equalBytes } from '../util/bytes.js';

export interface MessageTransport {
  readonly kind: 'v1' | 'v2';
  /** Bytes to send as soon as the transport is chosen (v2: our key and garbage). */
  start(): Uint8Array[];
  receive(bytes: Uint8Array): { send: Uint8Array[]; messages: P2PMessage[] };
  encode(msg: P2PMessage): Uint8Array;
}

export class V1Transport implements MessageTransport {
  readonly kind = 'v1';
  private readonly decoder: V1Decoder;
  constructor(private readonly magic: Uint8Array) {
    this.decoder = new V1Decoder(magic);
  }
  start(): Uint8Array[] {
    return [];
  }
  receive(bytes: Uint8Array) {
    return { send: [], messages: this.decoder.push(bytes) };
  }
  encode(msg: P2PMessage): Uint8Array {
    return encodeV1Message(this.magic, msg);
  }
}

/** Length of the prefix that tells a v1 connection from a v2 one (BIP324). */
export const V1_PREFIX_LENGTH = 16;

/** A v1 connection starts with magic + "version" + 5 NULs; a v2 one with 64 random-looking bytes. */
export function isV1Prefix(magic: Uint8Array, first16: Uint8Array): boolean {
  const expected = concatBytes(magic, new TextEncoder().encode('version'), new Uint8Array(5));
  return equalBytes(first16.subarray(0, V1_PREFIX_LENGTH), expected);
}
