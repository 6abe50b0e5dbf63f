// A BIP324 v2 transport session for one connection: bytes in, bytes and messages out, no I/O.
//
// Initiator: start() gives ellswift+garbage; receive() takes whatever the socket delivered and
// returns what to write back plus the decoded messages. Responder: start() gives nothing (it
// must first see 16 bytes to tell a v1 peer from a v2 one); once the peer is known to speak v2
// its key and garbage come out of receive(). After both keys are known each side sends its
// garbage terminator, optional decoys and its (empty) transport version packet, whose AAD
// authenticates the garbage it sent. encodeMessage() frames application messages.
//
// Errors from receive() are MalformedInputError (the session is then 'failed'; close the
// socket) with these codes, each also counted as `error.<code>`:
//   bip324.bad_tag                 a packet (or the garbage it authenticates) failed Poly1305
//   bip324.packet_too_large        announced contents above MAX_CONTENTS_LEN (checked before buffering)
//   bip324.no_garbage_terminator   no terminator within 4095 + 16 bytes after the key
//   bip324.v1_wrong_network        a v1 version message under another network's magic
//   bip324.empty_message / bip324.short_command / bip324.bad_command   malformed message type
//   bip324.session_failed          receive() called again after one of the above
// AltnetError 'bip324.is_v1' (receive after v1 was detected) and 'bip324.not_ready'
// (encodeMessage before our version packet) are caller mistakes, not peer input.

import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { Counters } from '../../util/counters.js';
import { AltnetError, ConfigError, MalformedInputError } from '../../util/errors.js';
import {
  GARBAGE_TERMINATOR_LEN,
  HEADER_LEN,
  LENGTH_LEN,
  MAX_CONTENTS_LEN,
  MAX_GARBAGE_LEN,
  MAX_PAYLOAD_LEN,
  PacketCipher,
  TAG_LEN,
  type AeadBackend,
  deriveSessionKeys,
} from './cipher.js';
import { ellswiftCreate, v2Ecdh, type RandomBytes } from './ellswift.js';
import { decodeMessageContents, encodeMessageContents, type V2Message } from './messages.js';
import { concatBytes } from '../../util/bytes.js';
import { detectTransport, V1_PREFIX_LEN, v1Prefix } from './detect.js';

export type V2Role = 'initiator' | 'responder';

/**
 * detecting: responder waiting for 16 bytes to rule out v1; key: waiting for the peer's 64-byte
 * key; garbage: looking for the peer's garbage terminator; version: waiting for the peer's
 * version packet; ready: handshake done; v1: the peer speaks v1 (responder only);
 * failed: a malformed input ended the session.
 */
export type V2State = 'detecting' | 'key' | 'garbage' | 'version' | 'ready' | 'v1' | 'failed';

export interface V2SessionOptions {
  /** The network's 4-byte P2P magic (mixed into the key derivation and the v1 check). */
  magic: Uint8Array;
  role: V2Role;
  /** Random source for the key, its encoding and the garbage; defaults to node:crypto. */
  rng?: RandomBytes;
  /** Garbage bytes to send after our key, 0..4095; random in that range by default. */
  garbageLen?: number;
  /** Contents lengths of decoy packets to send between our garbage terminator and version packet. */
  decoys?: number[];
  /** ChaCha20-Poly1305 implementation: 'node' (OpenSSL, the default: faster at every size) or 'noble' (pure JS). */
  aead?: AeadBackend;
  /** Scoped counters (e.g. `node.v2.`): errors by code, packets, decoys, unknown ids. */
  counters?: Counters;
}

export interface V2ReceiveResult {
  /** Bytes to write to the peer, in order. */
  send: Uint8Array[];
  /** Application messages, in order (transport version packet and decoys are not included). */
  messages: V2Message[];
  /**
   * Responder only: the peer opened with a v1 `version` message. These are all bytes received
   * so far; hand them (and everything after) to the v1 framing and drop this session.
   */
  v1?: Uint8Array;
}

export const KEY_LEN = 64;
const EMPTY = new Uint8Array(0);

function defaultRng(n: number): Uint8Array {
  return new Uint8Array(nodeRandomBytes(n));
}

export class V2Session {
  readonly role: V2Role;
  private readonly magic: Uint8Array;
  private readonly rng: RandomBytes;
  private readonly counters: Counters;
  private readonly decoys: number[];
  private readonly aead: AeadBackend;
  private readonly garbage: Uint8Array;
  private readonly privateKey: Uint8Array;
  /** Our 64-byte ElligatorSwift public key as sent. */
  readonly ellswift: Uint8Array;

  private _state: V2State;
  private started = false;
  private cipher: PacketCipher | null = null;
  private versionSent = false;

  // Fixed-size reads (v1 prefix, key, length, sealed packet) accumulate here.
  private acc: Uint8Array = new Uint8Array(KEY_LEN);
  private accLen = 0;
  private sealedLen = 0; // 0: reading a length field; else: bytes of header+contents+tag to read
  private recvAad: Uint8Array = EMPTY;

  constructor(opts: V2SessionOptions) {
    if (!(opts.magic instanceof Uint8Array) || opts.magic.length !== 4) {
      throw new ConfigError('bip324.bad_magic', 'BIP324 session needs the 4-byte network magic (see src/chain/networks.ts)');
    }
    if (opts.role !== 'initiator' && opts.role !== 'responder') {
      throw new ConfigError('bip324.bad_role', `BIP324 role must be 'initiator' or 'responder', got ${String(opts.role)}`);
    }
    const garbageLen = opts.garbageLen;
    if (garbageLen !== undefined && (!Number.isInteger(garbageLen) || garbageLen < 0 || garbageLen > MAX_GARBAGE_LEN)) {
      throw new ConfigError('bip324.bad_garbage_len', `BIP324 garbage length must be 0..${MAX_GARBAGE_LEN}, got ${garbageLen}`);
    }
    for (const d of opts.decoys ?? []) {
      if (!Number.isInteger(d) || d < 0 || d > MAX_CONTENTS_LEN) {
        throw new ConfigError('bip324.bad_decoy_len', `BIP324 decoy length must be 0..${MAX_CONTENTS_LEN}, got ${d}`);
      }
    }
    this.role = opts.role;
    this.magic = Uint8Array.from(opts.magic);
    this.rng = opts.rng ?? defaultRng;
    this.counters = opts.counters ?? new Counters();
    this.decoys = [...(opts.decoys ?? [])];
    if (opts.aead !== undefined && opts.aead !== 'noble' && opts.aead !== 'node') {
      throw new ConfigError('bip324.bad_aead', `BIP324 aead backend must be 'noble' or 'node', got ${String(opts.aead)}`);
    }
    this.aead = opts.aead ?? 'node';
    const keys = ellswiftCreate(this.rng);
    this.privateKey = keys.privateKey;
    this.ellswift = keys.ellswift;
    const r = this.rng(2);
    const len = garbageLen ?? ((r[0] << 8) | r[1]) % (MAX_GARBAGE_LEN + 1);
    this.garbage = len === 0 ? EMPTY : Uint8Array.from(this.rng(len));
    this._state = this.role === 'responder' ? 'detecting' : 'key';
  }

  get state(): V2State {
    return this._state;
  }

  /**
   * True once our version packet is out (from the moment the peer's key arrived): encodeMessage()
   * may be called from then on, before the peer's own version packet (state 'ready') arrives.
   */
  get canSend(): boolean {
    return this.versionSent && this._state !== 'failed' && this._state !== 'v1';
  }

  /** Bytes received but not yet consumed: at most one packet, the garbage limit or a key. */
  get bufferedBytes(): number {
    return this.accLen;
  }

  /** 32-byte session id (compare out of band to detect a man in the middle); null before the keys. */
  get sessionId(): Uint8Array | null {
    return this.cipher ? this.cipher.sessionId : null;
  }

  /** Bytes to send first: key and garbage for an initiator, nothing for a responder. */
  start(): Uint8Array {
    if (this.started) throw new AltnetError('bip324.already_started', 'V2Session.start() may be called once');
    this.started = true;
    if (this.role === 'responder') return EMPTY;
    return this.keyAndGarbage();
  }

  receive(bytes: Uint8Array): V2ReceiveResult {
    const first = this.started ? EMPTY : this.start();
    if (this._state === 'failed') {
      throw new MalformedInputError('bip324.session_failed', 'BIP324 session already failed; close the connection');
    }
    if (this._state === 'v1') {
      throw new AltnetError('bip324.is_v1', 'this connection speaks v1; pass its bytes to the v1 framing instead');
    }
    const out: V2ReceiveResult = { send: first.length ? [first] : [], messages: [] };
    try {
      this.process(bytes, out);
    } catch (err) {
      if (err instanceof MalformedInputError) {
        this._state = 'failed';
        this.counters.inc(`error.${err.code}`);
      }
      throw err;
    }
    return out;
  }

  /** One application message as a v2 packet. Only after our version packet went out (`canSend`). */
  encodeMessage(command: string, payload: Uint8Array): Uint8Array {
    const cipher = this.sendCipher();
    if (payload.length > MAX_PAYLOAD_LEN) {
      throw new RangeError(`P2P payload of ${payload.length} bytes exceeds the ${MAX_PAYLOAD_LEN}-byte limit`);
    }
    this.counters.inc('packets_sent');
    return cipher.encrypt(encodeMessageContents(command, payload));
  }

  /** A decoy packet (ignore bit set) of `contentsLen` zero bytes, for traffic shaping. */
  encodeDecoy(contentsLen: number): Uint8Array {
    const cipher = this.sendCipher();
    if (!Number.isInteger(contentsLen) || contentsLen < 0 || contentsLen > MAX_CONTENTS_LEN) {
      throw new RangeError(`decoy length must be 0..${MAX_CONTENTS_LEN}`);
    }
    this.counters.inc('decoys_sent');
    return cipher.encrypt(new Uint8Array(contentsLen), EMPTY, true);
  }

  private sendCipher(): PacketCipher {
    if (!this.canSend || !this.cipher) {
      throw new AltnetError(
        'bip324.not_ready',
        `BIP324 session cannot send application messages in state '${this._state}'; wait until session.canSend`,
      );
    }
    return this.cipher;
  }

  private keyAndGarbage(): Uint8Array {
    const out = new Uint8Array(KEY_LEN + this.garbage.length);
    out.set(this.ellswift, 0);
    out.set(this.garbage, KEY_LEN);
    return out;
  }

  /** Copies input into acc until it holds `need` bytes; returns the new input offset. */
  private fill(input: Uint8Array, pos: number, need: number): number {
    const take = Math.min(need - this.accLen, input.length - pos);
    this.acc.set(input.subarray(pos, pos + take), this.accLen);
    this.accLen += take;
    return pos + take;
  }

  private process(input: Uint8Array, out: V2ReceiveResult): void {
    let pos = 0;
    while (pos < input.length) {
      switch (this._state) {
        case 'detecting': {
          pos = this.fill(input, pos, V1_PREFIX_LEN);
          const verdict = detectTransport(this.magic, this.acc.subarray(0, this.accLen));
          if (verdict === 'v1') {
            this._state = 'v1';
            this.counters.inc('v1_detected');
            const rest = input.subarray(pos);
            const all = new Uint8Array(this.accLen + rest.length);
            all.set(this.acc.subarray(0, this.accLen));
            all.set(rest, this.accLen);
            out.v1 = all;
            return;
          }
          if (verdict === 'v2') {
            // The bytes seen so far are the start of the peer's key; they stay in acc.
            if (this.accLen >= V1_PREFIX_LEN) this.checkWrongNetworkV1();
            this._state = 'key';
            out.send.push(this.keyAndGarbage());
          }
          break;
        }
        case 'key': {
          pos = this.fill(input, pos, KEY_LEN);
          if (this.role === 'responder' && this.accLen >= V1_PREFIX_LEN) this.checkWrongNetworkV1();
          if (this.accLen === KEY_LEN) this.onTheirKey(out);
          break;
        }
        case 'garbage':
          pos = this.scanGarbage(input, pos);
          break;
        case 'version':
        case 'ready':
          pos = this.readPacket(input, pos, out);
          break;
        default:
          return;
      }
    }
  }

  /** A v1 `version` message under another network's magic looks like a key to us; say so. */
  private checkWrongNetworkV1(): void {
    const tail = v1Prefix(this.magic).subarray(4);
    for (let i = 0; i < tail.length; i++) if (this.acc[4 + i] !== tail[i]) return;
    throw new MalformedInputError(
      'bip324.v1_wrong_network',
      'peer sent a v1 version message with another network magic; check that both sides run the same network',
    );
  }

  private onTheirKey(out: V2ReceiveResult): void {
    const theirs = Uint8Array.from(this.acc.subarray(0, KEY_LEN));
    const initiating = this.role === 'initiator';
    const secret = v2Ecdh(this.privateKey, theirs, this.ellswift, initiating);
    this.cipher = new PacketCipher(deriveSessionKeys(secret, this.magic), initiating, this.aead);
    // Garbage terminator, decoys, version packet; the first packet carries our garbage as AAD.
    const parts: Uint8Array[] = [this.cipher.sendGarbageTerminator];
    let aad = this.garbage;
    for (const d of this.decoys) {
      parts.push(this.cipher.encrypt(new Uint8Array(d), aad, true));
      aad = EMPTY;
      this.counters.inc('decoys_sent');
    }
    parts.push(this.cipher.encrypt(EMPTY, aad, false));
    out.send.push(concatBytes(...parts));
    this.versionSent = true;
    this._state = 'garbage';
    this.acc = new Uint8Array(MAX_GARBAGE_LEN + GARBAGE_TERMINATOR_LEN);
    this.accLen = 0;
  }

  private scanGarbage(input: Uint8Array, pos: number): number {
    const cipher = this.cipher!;
    const term = cipher.recvGarbageTerminator;
    const start = this.accLen;
    pos = this.fill(input, pos, this.acc.length);
    // A terminator ending at index e (exclusive); earlier calls already ruled out e <= start.
    for (let e = Math.max(GARBAGE_TERMINATOR_LEN, start + 1); e <= this.accLen; e++) {
      let match = true;
      for (let i = 0; i < GARBAGE_TERMINATOR_LEN; i++) {
        if (this.acc[e - GARBAGE_TERMINATOR_LEN + i] !== term[i]) {
          match = false;
          break;
        }
      }
      if (match) {
        this.recvAad = Uint8Array.from(this.acc.subarray(0, e - GARBAGE_TERMINATOR_LEN));
        const unread = this.accLen - e; // bytes after the terminator, all from this input
        this._state = 'version';
        this.acc = new Uint8Array(LENGTH_LEN);
        this.accLen = 0;
        this.sealedLen = 0;
        return pos - unread;
      }
    }
    if (this.accLen === this.acc.length) {
      throw new MalformedInputError(
        'bip324.no_garbage_terminator',
        `no BIP324 garbage terminator within ${MAX_GARBAGE_LEN} bytes of garbage; the peer is not a v2 peer of this network`,
      );
    }
    return pos;
  }

  private readPacket(input: Uint8Array, pos: number, out: V2ReceiveResult): number {
    const cipher = this.cipher!;
    if (this.sealedLen === 0) {
      pos = this.fill(input, pos, LENGTH_LEN);
      if (this.accLen < LENGTH_LEN) return pos;
      const len = cipher.decryptLength(this.acc);
      if (len > MAX_CONTENTS_LEN) {
        throw new MalformedInputError(
          'bip324.packet_too_large',
          `BIP324 packet announces ${len} bytes of contents, above the ${MAX_CONTENTS_LEN}-byte limit; close the connection`,
        );
      }
      this.sealedLen = HEADER_LEN + len + TAG_LEN;
      this.accLen = 0;
      // Whole packet already in this input: decrypt in place, no copy.
      if (input.length - pos >= this.sealedLen) {
        const sealed = input.subarray(pos, pos + this.sealedLen);
        pos += this.sealedLen;
        this.onSealed(sealed, out);
        return pos;
      }
      this.acc = new Uint8Array(this.sealedLen);
    }
    pos = this.fill(input, pos, this.sealedLen);
    if (this.accLen === this.sealedLen) this.onSealed(this.acc, out);
    return pos;
  }

  private onSealed(sealed: Uint8Array, out: V2ReceiveResult): void {
    const { ignore, contents } = this.cipher!.decrypt(sealed, this.recvAad);
    this.recvAad = EMPTY;
    this.sealedLen = 0;
    this.acc = new Uint8Array(LENGTH_LEN);
    this.accLen = 0;
    this.counters.inc('packets_received');
    if (ignore) {
      this.counters.inc('decoys_received');
      return;
    }
    if (this._state === 'version') {
      // Transport version contents are reserved for future extensions; any value is accepted.
      this._state = 'ready';
      return;
    }
    const msg = decodeMessageContents(contents);
    if (msg === null) {
      this.counters.inc('unknown_message_id');
      return;
    }
    out.messages.push(msg);
  }
}
