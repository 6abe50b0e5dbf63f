// Beacon to receive-only over a simulated LoRa channel with 30% loss, between real nodes:
// node B (mining) -> beacon gateway -> air -> receive-only gateway -> eclipsed node A.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startTestGateway } from '../harness/gateway.js';
import { memoryLogger } from '../../src/util/log.js';
import { startBeacon, startTestAir, type TestAir } from '../harness/air.js';
import { BitcoindProcess } from '../harness/bitcoind.js';

describe('beacon -> 30% lossy LoRa air -> receive-only gateway -> eclipsed node', () => {
  let air: TestAir;
  let beacon: Gateway;
  let receiver: Gateway;
  let nodeA: BitcoindProcess;
  let nodeB: BitcoindProcess;
  const logs = { beacon: memoryLogger(), receiver: memoryLogger() };

  beforeAll(async () => {
    air = await startTestAir({ loss: 0.3, seed: 7 });
    beacon = await startBeacon(air, { linkName: 'air', log: logs.beacon });
    receiver = await startTestGateway({
      mode: 'receive-only',
      links: [air.link('air', 'rx')],
      log: logs.receiver,
    });
    nodeB = new BitcoindProcess({ name: 'B', args: [`-addnode=127.0.0.1:${beacon.nodePort}`] });
    nodeA = new BitcoindProcess({ name: 'A', args: [`-addnode=127.0.0.1:${receiver.nodePort}`] });
    await Promise.all([nodeA.start(), nodeB.start()]);
  });

  afterAll(async () => {
    await Promise.all([nodeA?.stop(), nodeB?.stop()]);
    await Promise.all([beacon?.stop(), receiver?.stop()]);
    await air?.air.close();
  });

  it("A's headers reach B's tip although a third of the frames are lost", async () => {
    await nodeB.mine(40);
    const bTip = await nodeB.rpc<string>('getbestblockhash');
    await nodeA.waitFor(
      "A has B's 40 headers",
      async () => (await nodeA.rpc<any[]>('getchaintips')).some((t) => t.hash === bTip && t.height === 40),
      90_000,
    );
    expect(air.air.stats.lost).toBeGreaterThan(0);
    // Drivers report their counters every 2 s.
    await nodeA.waitFor(
      'driver counters',
      async () => beacon.status().links[0].counters.frames_tx > 0 && receiver.status().links[0].counters.frames_rx > 0,
    );
    // The receive-only gateway never transmitted anything.
    expect(receiver.status().links[0].counters.frames_tx ?? 0).toBe(0);
    expect(receiver.status().links[0].direction).toBe('rx');
    expect(await nodeA.rpc<any[]>('listbanned')).toEqual([]);
  });

  it('a block mined afterwards is announced as a standalone tip and reaches A', async () => {
    const [hash] = await nodeB.mine(1);
    await nodeA.waitFor('A has block 41', async () => (await nodeA.rpc<any[]>('getchaintips')).some((t) => t.hash === hash), 60_000);
    expect(receiver.chain.tip().height).toBe(41);
    // The tip frame itself may be among the lost ones; the carousel repeats the block anyway.
    await nodeA.waitFor('tip frame counted', async () => beacon.status().links[0].counters.tips_tx > 0);
    await nodeA.waitFor('receiver decoded frames', async () => {
      const c = receiver.status().links[0].counters;
      return (c.tips_rx ?? 0) + (c.header_batches_rx ?? 0) > 0;
    });
  });
});
