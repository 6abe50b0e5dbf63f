// A generic KISS TNC (AX.25 inside) for the KISS transport tests. The LoRa modems (RNode, RAK3172,
// RN2483, E22, Meshtastic) are emulated from their own firmware and manuals in radios/.
import { KissDecoder, kissData } from '../../src/links/kiss/kiss.js';
import { DeviceEmulator } from './device.js';

/** A KISS TNC: data frames on its port go on the air as AX.25; parameters are recorded. */
export class KissTncEmulator extends DeviceEmulator {
  private readonly decoder = new KissDecoder({ maxFrameBytes: 2048 });
  readonly params: { command: number; value: number[] }[] = [];

  constructor(readonly port = 0) {
    super();
  }

  protected onBytes(chunk: Uint8Array): void {
    for (const f of this.decoder.push(chunk)) {
      if (f.port !== this.port) continue;
      if (f.command === 0) this.airTx(f.payload);
      else this.params.push({ command: f.command, value: [...f.payload] });
    }
  }

  receiveFromAir(ax25: Uint8Array): void {
    this.send(kissData(this.port, ax25));
  }
}
