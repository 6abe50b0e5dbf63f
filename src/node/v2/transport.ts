// The v2 session in the shape of src/node/transport.ts's MessageTransport (kind, start,
// receive, encode), so the peer server and the outbound P2P link can swap it in for V1Transport.
// Messages encoded before our version packet is out are held and flushed, in order, with the
// handshake bytes, instead of failing.

import type { Counters } from '../../util/counters.js';
import { AltnetError } from '../../util/errors.js';
import type { AeadBackend } from './cipher.js';
import type { RandomBytes } from './ellswift.js';
import type { V2Message } from './messages.js';
import { V2Session, type V2Role } from './session.js';

/** Messages queued before the handshake: a version message and a few small ones fit easily. */
const MAX_HELD_BYTES = 1_000_000;

export interface V2TransportOptions {
  magic: Uint8Array;
  role: V2Role;
  rng?: RandomBytes;
  garbageLen?: number;
  aead?: AeadBackend;
  counters?: Counters;
}

export class V2Transport {
  readonly kind = 'v2' as const;
  readonly session: V2Session;
  private held: V2Message[] = [];
  private heldBytes = 0;

  constructor(opts: V2TransportOptions) {
    this.session = new V2Session(opts);
  }

  /** Initiator: [key + garbage]. Responder: [] (its key follows once the first bytes rule out v1). */
  start(): Uint8Array[] {
    const first = this.session.start();
    return first.length ? [first] : [];
  }

  receive(bytes: Uint8Array): { send: Uint8Array[]; messages: V2Message[] } {
    const r = this.session.receive(bytes);
    if (r.v1) {
      // Callers pick V1Transport from the first 16 bytes (detectTransport) before building us.
      throw new AltnetError('bip324.is_v1', 'V2Transport received a v1 connection; choose the transport with detectTransport() first');
    }
    if (this.held.length && this.session.canSend) {
      for (const m of this.held) r.send.push(this.session.encodeMessage(m.command, m.payload));
      this.held = [];
      this.heldBytes = 0;
    }
    return { send: r.send, messages: r.messages };
  }

  /** Bytes received but not yet part of a whole packet (or the key and garbage). */
  get pending(): number {
    return this.session.bufferedBytes;
  }

  encode(msg: V2Message): Uint8Array {
    if (!this.session.canSend) {
      if (this.heldBytes + msg.payload.length > MAX_HELD_BYTES) {
        throw new AltnetError('bip324.held_overflow', 'too much queued for a v2 connection whose handshake has not finished');
      }
      this.held.push({ command: msg.command, payload: Uint8Array.from(msg.payload) });
      this.heldBytes += msg.payload.length;
      return new Uint8Array(0);
    }
    return this.session.encodeMessage(msg.command, msg.payload);
  }
}
