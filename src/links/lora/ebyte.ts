// Ebyte E22 (SX1262/SX1268) in transparent mode: whatever goes into the UART comes out of the
// far module's UART, split into sub-packets of up to 240 bytes. There are no frame boundaries,
// so we add our own: sync A5 5A, one length byte, the payload, CRC-16/CCITT-FALSE over length and
// payload. The receiver resynchronises on the next sync after any error.
//
// Configuration (channel, air data rate, sub-packet size) needs the M0/M1 pins in config mode
// (M0=0, M1=1), which a USB dongle exposes only as switches: set it once by hand (Ebyte's
// RF_Setting tool, or write C0 00 09 + 9 register bytes at 9600 baud), then return to
// transparent mode (M0=M1=0). This driver never changes the module's configuration.
import { crc16 } from '../../codec/crc.js';
import { concatBytes } from '../../util/bytes.js';
import { planLora, type LoraRadioSettings, type LoraTransportOptions } from './common.js';
import { E22_FRAMING_BYTES, E22_SUBPACKET_BYTES } from '../radio/airtime.js';
import { RadioTransport, type DeviceInfo, type RadioDeps } from '../radio/transport.js';

export const E22_SYNC = [0xa5, 0x5a] as const;
/** Bytes our framing adds: sync (2), length (1), CRC (2). */
export const E22_OVERHEAD = E22_FRAMING_BYTES;
/** Default E22 sub-packet size: one write up to this size goes out as one radio packet. */
export const E22_SUBPACKET = E22_SUBPACKET_BYTES;

export function encodeE22Frame(payload: Uint8Array): Uint8Array {
  if (payload.length < 1 || payload.length > 255) throw new RangeError(`E22 frame payload must be 1..255 bytes, got ${payload.length}`);
  const out = new Uint8Array(payload.length + E22_OVERHEAD);
  out[0] = E22_SYNC[0];
  out[1] = E22_SYNC[1];
  out[2] = payload.length;
  out.set(payload, 3);
  const crc = crc16(out.subarray(2, 3 + payload.length));
  out[3 + payload.length] = crc >> 8;
  out[4 + payload.length] = crc & 0xff;
  return out;
}

/** Streaming decoder for encodeE22Frame output; memory bounded by one maximal frame. */
export class E22Decoder {
  private buf = new Uint8Array(0);

  constructor(private readonly onError?: (code: 'e22-bad-crc' | 'e22-noise') => void) {}

  push(chunk: Uint8Array): Uint8Array[] {
    const joined = concatBytes(this.buf, chunk);
    const out: Uint8Array[] = [];
    let i = 0;
    let noise = 0;
    while (i < joined.length) {
      if (joined[i] !== E22_SYNC[0] || (i + 1 < joined.length && joined[i + 1] !== E22_SYNC[1])) {
        i++;
        noise++;
        continue;
      }
      if (i + 3 > joined.length) break;
      const len = joined[i + 2];
      if (len === 0) {
        i++;
        noise++;
        continue;
      }
      const end = i + 3 + len + 2;
      if (end > joined.length) break;
      const crc = (joined[end - 2] << 8) | joined[end - 1];
      if (crc16(joined.subarray(i + 2, end - 2)) !== crc) {
        this.onError?.('e22-bad-crc');
        i++;
        continue;
      }
      out.push(joined.slice(i + 3, end - 2));
      i = end;
    }
    if (noise) this.onError?.('e22-noise');
    this.buf = joined.slice(i);
    return out;
  }
}

export class EbyteE22Transport extends RadioTransport {
  readonly settings: LoraRadioSettings;
  private readonly decoder: E22Decoder;
  private readonly airtime: (n: number) => number;

  constructor(o: LoraTransportOptions, deps: RadioDeps) {
    const plan = planLora(o, Math.min(E22_SUBPACKET, o.profile.radio.phyMaxPayload) - E22_OVERHEAD);
    super(plan.base(o), deps);
    this.settings = plan.settings;
    this.airtime = plan.airtimeOf;
    this.decoder = new E22Decoder((code) => this.malformed(code, 'E22 stream'));
  }

  override async deviceInfo(): Promise<DeviceInfo> {
    return {
      readBack: {},
      notes: [
        'transparent mode: the E22 answers nothing; its registers are read only in configuration mode (M0=0, M1=1: C1 00 09)',
        "airtime assumes the profile's SF/BW for the module's air data rate (Ebyte does not publish the mapping)",
      ],
    };
  }

  protected async initialize(): Promise<void> {
    // Transparent mode has nothing to negotiate; see the header comment for configuration.
  }

  protected async transmit(frame: Uint8Array): Promise<void> {
    await this.write(encodeE22Frame(frame));
    // No AUX pin over USB: pace by airtime so the module's buffer never overflows and each
    // frame leaves as its own radio packet.
    await this.sleep(this.airtime(frame.length));
  }

  protected onBytes(chunk: Uint8Array): void {
    for (const f of this.decoder.push(chunk)) this.deliver(f);
  }

  protected abortPending(): void {}
}
