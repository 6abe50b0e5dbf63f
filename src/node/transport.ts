// A connection's message layer: v1 framing, or BIP324 v2 once a session is plugged in.
// Both turn received bytes into messages (plus bytes to send back, for v2's handshake).
import { encodeV1Message, V1Decoder, type P2PMessage } from './wire.js';

export interface MessageTransport {
  readonly kind: 'v1' | 'v2';
  /** Bytes to send as soon as the transport is chosen (v2: our key and garbage). */
  start(): Uint8Array[];
  receive(bytes: Uint8Array): { send: Uint8Array[]; messages: P2PMessage[] };
  encode(msg: P2PMessage): Uint8Array;
  /** Bytes received but not yet part of a whole message (a message in progress). */
  readonly pending: number;
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
  get pending(): number {
    return this.decoder.pending;
  }
}
