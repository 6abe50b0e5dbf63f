// v2 application-layer message types: a 1-byte short id (BIP324 table) or 0x00 followed by
// the 12-byte NUL-padded command used in v1.

import { MalformedInputError } from '../../util/errors.js';

/** BIP324's short message type ids, index = id. Index 0 means "12-byte command follows". */
export const SHORT_MESSAGE_IDS: readonly string[] = [
  '',
  'addr',
  'block',
  'blocktxn',
  'cmpctblock',
  'feefilter',
  'filteradd',
  'filterclear',
  'filterload',
  'getblocks',
  'getblocktxn',
  'getdata',
  'getheaders',
  'headers',
  'inv',
  'mempool',
  'merkleblock',
  'notfound',
  'ping',
  'pong',
  'sendcmpct',
  'tx',
  'getcfilters',
  'cfilter',
  'getcfheaders',
  'cfheaders',
  'getcfcheckpt',
  'cfcheckpt',
  'addrv2',
  // 29..32 are assigned by BIP324 to Erlay (BIP330) messages.
  'reqrecon',
  'sketch',
  'reqsketchext',
  'reconcildiff',
];

/**
 * Ids we use when sending. Bitcoin Core 30 decodes only 1..28 (it drops 29..32 as
 * unknown), so the Erlay names are sent in the long form, which every peer understands.
 */
const SEND_IDS = new Map<string, number>(SHORT_MESSAGE_IDS.slice(1, 29).map((name, i) => [name, i + 1]));

export const COMMAND_LEN = 12;

export interface V2Message {
  command: string;
  payload: Uint8Array;
}

function checkCommand(command: string): void {
  if (command.length === 0 || command.length > COMMAND_LEN || !/^[\x21-\x7e]+$/.test(command)) {
    throw new RangeError(`a P2P command is 1..12 printable ASCII characters, got ${JSON.stringify(command)}`);
  }
}

/** Packet contents for one message: short id when one exists, else 0x00 + 12-byte command. */
export function encodeMessageContents(command: string, payload: Uint8Array): Uint8Array {
  checkCommand(command);
  const id = SEND_IDS.get(command);
  if (id !== undefined) {
    const out = new Uint8Array(1 + payload.length);
    out[0] = id;
    out.set(payload, 1);
    return out;
  }
  const out = new Uint8Array(1 + COMMAND_LEN + payload.length);
  for (let i = 0; i < command.length; i++) out[1 + i] = command.charCodeAt(i);
  out.set(payload, 1 + COMMAND_LEN);
  return out;
}

/**
 * Splits packet contents into command and payload. Returns null for a short id that BIP324
 * does not define (the peer may know newer ids; Core also drops such messages and carries on).
 */
export function decodeMessageContents(contents: Uint8Array): V2Message | null {
  if (contents.length === 0) {
    throw new MalformedInputError('bip324.empty_message', 'BIP324 packet has no message type byte; close the connection');
  }
  const first = contents[0];
  if (first !== 0) {
    const command = SHORT_MESSAGE_IDS[first];
    if (command === undefined) return null;
    return { command, payload: contents.subarray(1) };
  }
  if (contents.length < 1 + COMMAND_LEN) {
    throw new MalformedInputError(
      'bip324.short_command',
      `BIP324 long message type needs 12 command bytes, got ${contents.length - 1}; close the connection`,
    );
  }
  const raw = contents.subarray(1, 1 + COMMAND_LEN);
  let end = raw.indexOf(0);
  if (end === -1) end = COMMAND_LEN;
  for (let i = 0; i < COMMAND_LEN; i++) {
    const c = raw[i];
    const ok = i < end ? c >= 0x21 && c <= 0x7e : c === 0;
    if (!ok || end === 0) {
      throw new MalformedInputError(
        'bip324.bad_command',
        'BIP324 long message type is not printable ASCII padded with NUL bytes; close the connection',
      );
    }
  }
  return { command: String.fromCharCode(...raw.subarray(0, end)), payload: contents.subarray(1 + COMMAND_LEN) };
}
