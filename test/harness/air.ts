// The simulated LoRa air of the e2e tests, and a beacon gateway transmitting on it: one place for
// the LoRa parameters (SF7, 125 kHz, CR 4/5, explicit header, CRC) and for the sim link options,
// so the tests that put a beacon and receivers on one channel set it up alike.
import { NETWORKS, type NetworkParams } from '../../src/chain/networks.js';
import type { Gateway, LinkSpec } from '../../src/gateway/gateway.js';
import { startTestGateway } from './gateway.js';
import { loraParams, type LoraAirtimeParams } from '../../src/links/radio/airtime.js';
import { SimAir, seededRandom } from '../../src/links/sim/air.js';
import { memoryLogger, type Logger } from '../../src/util/log.js';

/** SF7 at 125 kHz: the shortest airtime, so the tests spend little time waiting for the air. */
export const LORA_SF7: LoraAirtimeParams = loraParams(7);

export interface TestAir {
  air: SimAir;
  port: number;
  /** A `sim` link on this air (SF7, no duty-cycle limit unless `options` says otherwise). */
  link(name: string, direction?: 'tx' | 'rx', options?: Record<string, string>): LinkSpec;
}

/** A started SimAir with LORA_SF7; `seed` makes its losses repeatable (none: Math.random). */
export async function startTestAir(o: { loss?: number; seed?: number } = {}): Promise<TestAir> {
  const air = new SimAir({ loss: o.loss ?? 0, lora: LORA_SF7, random: o.seed === undefined ? undefined : seededRandom(o.seed) });
  const port = await air.start();
  return {
    air,
    port,
    link: (name, direction, options = {}) => ({
      name,
      type: 'sim',
      options: { type: 'sim', air: `127.0.0.1:${port}`, sf: '7', dutycycle: '1', ...(direction ? { direction } : {}), ...options },
    }),
  };
}

/** A beacon gateway (regtest unless told) sending on `air` through one transmit-only link named `linkName` (its batches go as fast as the air takes them). */
export function startBeacon(air: TestAir, o: { linkName: string; log?: Logger; network?: NetworkParams }): Promise<Gateway> {
  return startTestGateway({
    network: o.network ?? NETWORKS.regtest,
    mode: 'beacon',
    links: [air.link(o.linkName, 'tx')],
    log: o.log ?? memoryLogger(),
  });
}
