// Ebyte E22 (SX1262/SX1268) UART module in transparent mode (M0 = M1 = 0), written from Ebyte's
// E22-900T22S/E22-900T22D user manuals: section 5 "operating modes" (transparent transmission),
// register REG0 (UART 9600 8N1 default, air data rate 2.4k default), REG1 (sub-packet 240 bytes
// default), REG2 (channel: 850.125 + CH MHz for the 900 MHz models), REG3 bit 7 (RSSI byte
// appended, off by default) and NETID. Imports nothing from src/.
//
// What the manual does not say, the emulator does not invent: the LoRa spreading factor and
// bandwidth behind each "air data rate" and the on-air packet layout are Ebyte's own, so an E22
// only ever hears another E22 with the same air rate, channel and NETID (modelled by a sync word
// outside the one-byte range of every other radio here).
import { RadioDevice, type Phy } from './device.js';

export interface E22Options {
  /** REG2 channel: 850.125 MHz + CH * 1 MHz (900 MHz models); default 18 = 868.125 MHz. */
  channel?: number;
  netId?: number;
  /** LoRa parameters the module uses for its air data rate (undocumented; set to what you measured). */
  sf?: number;
  bandwidthHz?: number;
  /** REG1 sub-packet length: 240 (default), 128, 64 or 32 bytes. */
  subPacket?: 240 | 128 | 64 | 32;
}

export class E22Emulator extends RadioDevice {
  private pending: number[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly o: Required<E22Options>;

  constructor(o: E22Options = {}) {
    super();
    this.o = {
      channel: o.channel ?? 18,
      netId: o.netId ?? 0,
      sf: o.sf ?? 9,
      bandwidthHz: o.bandwidthHz ?? 125_000,
      subPacket: o.subPacket ?? 240,
    };
  }

  /**
   * "When the data sent by the user is less than the sub-packet length, the serial port output
   * of the receiving end presents an uninterrupted continuous output; if larger, the receiving
   * end outputs the packet" (REG1): one air packet per sub-packet, or when the UART goes idle.
   */
  protected onHostBytes(chunk: Uint8Array): void {
    for (const b of chunk) {
      this.pending.push(b);
      if (this.pending.length === this.o.subPacket) this.flush();
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.flush(), 10);
  }

  private flush(): void {
    if (!this.pending.length) return;
    this.transmit(this.phy(), Uint8Array.from(this.pending));
    this.pending = [];
  }

  phy(): Phy {
    return {
      frequencyHz: 850_125_000 + this.o.channel * 1_000_000,
      sf: this.o.sf,
      bandwidthHz: this.o.bandwidthHz,
      codingRate: 5,
      syncWord: 0x100 + this.o.netId, // Ebyte's undocumented framing: only E22s on the same NETID
      preambleSymbols: 8,
      crc: true,
      explicitHeader: true,
      invertIq: false,
      lowDataRateOptimize: 2 ** this.o.sf / this.o.bandwidthHz > 0.016,
    };
  }

  listening(): Phy {
    return this.phy(); // transparent mode always listens between transmissions
  }

  receive(bytes: Uint8Array): void {
    this.toHost(bytes);
  }

  override async stop(): Promise<void> {
    clearTimeout(this.timer);
    await super.stop();
  }
}
