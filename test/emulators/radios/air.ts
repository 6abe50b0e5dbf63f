// The emulated air between radio devices. A transmission reaches a receiver only when the two
// radios could really hear each other:
// - same spreading factor and bandwidth (different SF/BW are quasi-orthogonal: Semtech AN1200.22
//   "LoRa Modulation Basics", section 4);
// - carrier within a quarter of the bandwidth (SX1276 datasheet 4.1.5: the LoRa demodulator
//   tolerates a frequency offset of up to +/-25% of the bandwidth);
// - same sync word (SX1276 datasheet register RegSyncWord 0x39: "LoRa Sync Word ... value 0x34
//   is reserved for LoRaWAN networks"; a receiver ignores packets with another word);
// - same IQ polarity (RegInvertIQ; LoRaWAN inverts IQ on downlinks precisely so that nodes do
//   not hear each other);
// - same header mode and the same low-data-rate optimisation (both change the symbol coding;
//   in explicit header mode the coding rate and CRC flag travel in the header, so those need
//   not match);
// - a receiver preamble at least as long as the transmitter's (SX1276 datasheet 4.1.1.6: "the
//   receiver undertakes a preamble detection process that periodically restarts ... Where the
//   preamble length is not known, or can vary, the maximum preamble length should be
//   programmed on the receiver side").
// Loss is drawn from a seeded PRNG so runs repeat.
import type { AirPacket, Phy, RadioDevice } from './device.js';
import { prng } from '../device.js';

/** Why `rx` cannot hear a packet sent with `tx`, or undefined when it can. */
export function cannotHear(tx: Phy, rx: Phy): string | undefined {
  if (tx.sf !== rx.sf) return `spreading factor SF${tx.sf} vs SF${rx.sf}`;
  if (tx.bandwidthHz !== rx.bandwidthHz) return `bandwidth ${tx.bandwidthHz} vs ${rx.bandwidthHz} Hz`;
  if (Math.abs(tx.frequencyHz - rx.frequencyHz) > tx.bandwidthHz / 4) return `frequency ${tx.frequencyHz} vs ${rx.frequencyHz} Hz`;
  if (tx.syncWord !== rx.syncWord) return `sync word 0x${tx.syncWord.toString(16)} vs 0x${rx.syncWord.toString(16)}`;
  if (tx.invertIq !== rx.invertIq) return 'IQ polarity';
  if (tx.explicitHeader !== rx.explicitHeader) return 'header mode';
  if (tx.lowDataRateOptimize !== rx.lowDataRateOptimize) return 'low-data-rate optimisation';
  if (rx.preambleSymbols < tx.preambleSymbols) return `receiver preamble ${rx.preambleSymbols} shorter than ${tx.preambleSymbols}`;
  return undefined;
}

export interface AirStats {
  /** Packets that reached a listening receiver with matching settings. */
  delivered: number;
  /** Packets the channel lost (share `loss`). */
  dropped: number;
  /** Packets no receiver could hear, with the reason. */
  unheard: { from: string; reason: string }[];
  loss: number;
}

/** A shared channel: every transmission is offered to every other member. */
export class Air {
  private readonly members: { name: string; dev: RadioDevice }[] = [];
  private readonly rand: () => number;
  readonly stats: AirStats;

  constructor(loss = 0, seed = 1) {
    this.rand = prng(seed);
    this.stats = { delivered: 0, dropped: 0, unheard: [], loss };
  }

  join(name: string, dev: RadioDevice): this {
    this.members.push({ name, dev });
    dev.onAir = (p) => this.carry(name, dev, p);
    return this;
  }

  private carry(from: string, src: RadioDevice, p: AirPacket): void {
    for (const m of this.members) {
      if (m.dev === src) continue;
      const rx = m.dev.listening();
      if (!rx) {
        // Off or transmitting; counted only when it would otherwise have heard the packet.
        m.dev.missed++;
        continue;
      }
      const why = cannotHear(p.phy, rx);
      if (why) {
        this.stats.unheard.push({ from, reason: `${m.name}: ${why}` });
        continue;
      }
      if (this.rand() < this.stats.loss) {
        this.stats.dropped++;
        continue;
      }
      this.stats.delivered++;
      m.dev.receive(p.bytes);
    }
  }
}

/** Joins two devices on their own air (the common test case). */
export function linkByAir(a: RadioDevice, b: RadioDevice, loss = 0, seed = 1): AirStats {
  return new Air(loss, seed).join('a', a).join('b', b).stats;
}
