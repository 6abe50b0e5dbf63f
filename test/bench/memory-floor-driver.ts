// The floor of a link driver process (memory bench, issue 18): what every driver of the bench's
// gateway must load and do, with none of altnet's own code: its IPC channel on fd 3 (node:net, as
// driver-host.ts), one TCP connection (every bench link talks TCP), node:crypto's SHA-256 (block
// header hashes, chain/header.ts) and cbor-x (gateway/ipc.ts's light entry points) encoding and
// decoding each message. memory-floor.ts bundles it as scripts/bundle.mjs bundles the driver host
// (CommonJS, minified) and runs it with a source driver's flags and environment, so the bench can
// print how far each real driver is from what process isolation plus these costs anyway.
import { connect, Socket } from 'node:net';
import { createHash } from 'node:crypto';
import { Encoder } from 'cbor-x/encode';
import { Decoder } from 'cbor-x/decode';

const encoder = new Encoder({ useRecords: false, tagUint8Array: false, mapsAsObjects: true });
const decoder = new Decoder({ useRecords: false, mapsAsObjects: true });
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest();

const tcp = connect(Number(process.env.ALTNET_FLOOR_PORT), '127.0.0.1');
tcp.on('data', () => {});
tcp.on('error', () => process.exit(1));
const channel = new Socket({ fd: 3, readable: true, writable: true });
// Each chunk from the parent is taken as a block header: hashed, sent back as a CBOR message.
channel.on('data', (chunk: Buffer) => {
  const header = new Uint8Array(80);
  header.set(chunk.subarray(0, 80));
  const body = encoder.encode({ t: 'headers', headers: [header], hash: sha256(sha256(header)) });
  channel.write(encoder.encode(decoder.decode(body)));
});
channel.on('close', () => process.exit(0));
channel.on('error', () => process.exit(1));
