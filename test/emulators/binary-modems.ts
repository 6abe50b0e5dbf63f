// Emulators for the binary dialects: a generic KISS TNC (AX.25 inside), an RNode (KISS with radio
// commands), an Ebyte E22 (transparent UART) and a Meshtastic node (serial API, protobuf).
import { KissDecoder, kissData, kissEncodeRaw } from '../../src/links/kiss/kiss.js';
import { RNODE } from '../../src/links/lora/rnode.js';
import {
  MeshtasticStreamDecoder,
  PRIVATE_APP,
  BROADCAST,
  decodeToRadio,
  encodeFromRadio,
  frameStream,
  type FromRadioMsg,
} from '../../src/links/lora/meshtastic-schema.js';
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

/** RNode firmware: detect handshake, parameter echo, radio state, data frames. */
export class RNodeEmulator extends DeviceEmulator {
  private readonly decoder = new KissDecoder({ maxFrameBytes: 1024 });
  readonly config = new Map<number, number[]>();
  radioOn = false;
  /** Report this value instead of the one asked for (a board that cannot do it). */
  misreport: { cmd: number; value: number[] } | undefined;

  protected onBytes(chunk: Uint8Array): void {
    for (const f of this.decoder.push(chunk)) {
      const v = [...f.payload];
      switch (f.type) {
        case RNODE.DETECT:
          if (v[0] === RNODE.DETECT_REQ) this.send(kissEncodeRaw(RNODE.DETECT, Uint8Array.of(RNODE.DETECT_RESP)));
          break;
        case RNODE.FREQUENCY:
        case RNODE.BANDWIDTH:
        case RNODE.TXPOWER:
        case RNODE.SF:
        case RNODE.CR: {
          const reported = this.misreport?.cmd === f.type ? this.misreport.value : v;
          this.config.set(f.type, reported);
          this.send(kissEncodeRaw(f.type, Uint8Array.from(reported)));
          break;
        }
        case RNODE.RADIO_STATE:
          this.radioOn = v[0] === RNODE.RADIO_STATE_ON;
          this.send(kissEncodeRaw(RNODE.RADIO_STATE, Uint8Array.of(this.radioOn ? 1 : 0)));
          break;
        case RNODE.DATA:
          if (this.radioOn) this.airTx(f.payload);
          break;
        default:
          break;
      }
    }
  }

  receiveFromAir(payload: Uint8Array): void {
    if (!this.radioOn) {
      this.missed++;
      return;
    }
    this.send(kissEncodeRaw(RNODE.STAT_RSSI, Uint8Array.of(90)));
    this.send(kissEncodeRaw(RNODE.DATA, payload));
  }

  /** The board rebooted: radio off, reported as RNode firmware does at boot. */
  reboot(): void {
    this.radioOn = false;
    this.config.clear();
    this.send(kissEncodeRaw(RNODE.RADIO_STATE, Uint8Array.of(0)));
  }
}

/** E22 in transparent mode: whatever arrives on the UART goes on the air, chunk by chunk. */
export class E22Emulator extends DeviceEmulator {
  private pending: number[] = [];
  private timer: NodeJS.Timeout | undefined;

  /** Like the module: a packet leaves when the UART goes idle or a 240-byte sub-packet fills. */
  protected onBytes(chunk: Uint8Array): void {
    for (const b of chunk) {
      this.pending.push(b);
      if (this.pending.length === 240) this.flush();
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.flush(), 10);
  }

  private flush(): void {
    if (!this.pending.length) return;
    this.airTx(Uint8Array.from(this.pending));
    this.pending = [];
  }

  receiveFromAir(bytes: Uint8Array): void {
    this.send(bytes);
  }
}

/** A Meshtastic node on its serial API. */
export class MeshtasticEmulator extends DeviceEmulator {
  private readonly decoder = new MeshtasticStreamDecoder();
  readonly toRadio: ReturnType<typeof decodeToRadio>[] = [];
  /** Packets not confirmed with a QueueStatus (a stalled node). */
  stallPackets = 0;
  private packetIds = 1000;

  constructor(readonly nodeNum: number) {
    super();
  }

  private out(m: FromRadioMsg): void {
    this.send(frameStream(encodeFromRadio(m)));
  }

  protected onBytes(chunk: Uint8Array): void {
    for (const pb of this.decoder.push(chunk)) {
      const m = decodeToRadio(pb);
      this.toRadio.push(m);
      if (m.wantConfigId !== undefined) {
        this.send('INFO  | 12:00:00 1 [Main] Client wants config\r\n'); // debug console noise
        this.out({ id: 1, myInfo: { myNodeNum: this.nodeNum } });
        // A config message this client does not model (FromRadio.config = 5): skipped by decoders.
        this.send(frameStream(Uint8Array.of(0x08, 0x02, 0x2a, 0x03, 0x0a, 0x01, 0x00)));
        this.out({ id: 3, configCompleteId: m.wantConfigId });
      } else if (m.packet) {
        if (this.stallPackets > 0) {
          this.stallPackets--;
          continue;
        }
        this.out({ id: this.packetIds++, queueStatus: { res: 0, free: 15, maxlen: 16, meshPacketId: m.packet.id } });
        if (m.packet.decoded?.portnum === PRIVATE_APP && m.packet.decoded.payload) this.airTx(new Uint8Array(m.packet.decoded.payload));
      }
    }
  }

  receiveFromAir(payload: Uint8Array): void {
    this.out({
      id: this.packetIds++,
      packet: { from: 0x1234abcd, to: BROADCAST, id: this.packetIds, hopLimit: 2, decoded: { portnum: PRIVATE_APP, payload } },
    });
  }

  reboot(): void {
    this.out({ id: this.packetIds++, rebooted: true });
  }
}
