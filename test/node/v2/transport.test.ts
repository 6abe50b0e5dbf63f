import { describe, expect, it } from 'vitest';
import { NETWORKS } from '../../../src/chain/networks.js';
import type { MessageTransport } from '../../../src/node/transport.js';
import { V2Transport } from '../../../src/node/v2/transport.js';
import type { V2Message } from '../../../src/node/v2/messages.js';
import { AltnetError } from '../../../src/util/errors.js';
import { v1Prefix } from '../../../src/node/v2/detect.js';

const MAGIC = NETWORKS.regtest.magic;

describe('V2Transport (MessageTransport shape)', () => {
  it('plugs in where a MessageTransport is expected and flushes messages encoded before the handshake', () => {
    const a: MessageTransport = new V2Transport({ magic: MAGIC, role: 'initiator' });
    const b: MessageTransport = new V2Transport({ magic: MAGIC, role: 'responder' });
    expect(a.kind).toBe('v2');
    const toB = [...a.start()];
    expect(toB.length).toBe(1);
    expect(b.start()).toEqual([]);
    // The outbound side queues its P2P version before the v2 handshake is done.
    expect(a.encode({ command: 'version', payload: Uint8Array.of(1, 2, 3) }).length).toBe(0);
    const bGot: V2Message[] = [];
    const aGot: V2Message[] = [];
    for (let i = 0; i < 5; i++) {
      const forB = toB.splice(0);
      const toA: Uint8Array[] = [];
      for (const c of forB) {
        const r = b.receive(c);
        toA.push(...r.send);
        bGot.push(...r.messages);
      }
      for (const c of toA) {
        const r = a.receive(c);
        toB.push(...r.send);
        aGot.push(...r.messages);
      }
    }
    expect(bGot.map((m) => m.command)).toEqual(['version']);
    expect([...bGot[0].payload]).toEqual([1, 2, 3]);
    const verack = b.encode({ command: 'verack', payload: new Uint8Array(0) });
    expect(verack.length).toBe(3 + 1 + 13 + 16);
    expect(a.receive(verack).messages.map((m) => m.command)).toEqual(['verack']);
  });

  it('refuses v1 bytes with a typed error (callers choose the transport from the first 16 bytes)', () => {
    const b = new V2Transport({ magic: MAGIC, role: 'responder' });
    b.start();
    let err: unknown;
    try {
      b.receive(v1Prefix(MAGIC));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AltnetError);
    expect((err as AltnetError).code).toBe('bip324.is_v1');
  });
});
