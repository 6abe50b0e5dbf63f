// A generic KISS TNC (AX.25 inside) for the KISS transport tests, written from the KISS spec and
// Dire Wolf's KISS code, importing nothing from src/ (an emulator that shared the driver's
// framing could not catch the driver's misreading of it). The LoRa modems (RNode, RAK3172,
// RN2483, E22, Meshtastic) are emulated from their own firmware and manuals in radios/.
//
// Sources, cited per behaviour below:
//   [KISS]  M. Chepponis K3MC, P. Karn KA9Q, "The KISS TNC: A simple Host-to-TNC communications
//           protocol" (1987), e.g. http://www.ka9q.net/papers/kiss.html
//   [DW]    Dire Wolf (WB2OSZ), src/kiss_frame.c (kiss_rec_byte, kiss_unwrap, kiss_process_msg,
//           kiss_encapsulate) and src/kiss_frame.h
//   [DWAX]  Dire Wolf src/ax25_pad.c / ax25_pad.h (ax25_from_frame; AX25_MIN_PACKET_LEN)
import { DeviceEmulator } from './device.js';

// [KISS] section 2, "special characters"; the same values in [DW] kiss_frame.h.
const FEND = 0xc0; // frame end
const FESC = 0xdb; // frame escape
const TFEND = 0xdc; // transposed frame end
const TFESC = 0xdd; // transposed frame escape

// [KISS] section 4: the first byte of every frame is the type indicator; its low nibble is the
// command, its high nibble the port ("port number ... in the upper four bits", multi-port TNCs).
// [DW] kiss_frame.h names the commands KISS_CMD_DATA_FRAME 0 .. KISS_CMD_SET_HARDWARE 6 and
// KISS_CMD_END_KISS 15 (the whole byte 0xFF, "Return").
const CMD_DATA = 0x0;
const CMD_SET_HARDWARE = 0x6;
const CMD_RETURN = 0xf;

/** [DW] kiss_frame.h MAX_KISS_LEN: bytes of one frame (escaped, with its FENDs) Dire Wolf keeps. */
const MAX_KISS_LEN = 2048;
/** [DWAX] AX25_MIN_PACKET_LEN = 2 * 7 + 1: two addresses and a control byte. */
const AX25_MIN_PACKET_LEN = 2 * 7 + 1;

/** Undoes the [KISS] escapes of one frame body, the way [DW] kiss_unwrap does. */
function unescape(raw: number[]): { bytes: Uint8Array; badEscapes: number } {
  const out: number[] = [];
  let escaped = false;
  let badEscapes = 0;
  for (const b of raw) {
    if (escaped) {
      // [KISS] 2: FESC TFEND stands for FEND, FESC TFESC for FESC. Anything else after FESC is a
      // protocol error; [DW] kiss_unwrap reports it and drops the byte, then leaves escape mode.
      if (b === TFEND) out.push(FEND);
      else if (b === TFESC) out.push(FESC);
      else badEscapes++;
      escaped = false;
    } else if (b === FESC) escaped = true;
    else out.push(b);
  }
  return { bytes: Uint8Array.from(out), badEscapes };
}

/** One KISS frame for the host: FEND, escaped type byte and payload, FEND ([DW] kiss_encapsulate). */
function encapsulate(type: number, payload: Uint8Array): Uint8Array {
  const out: number[] = [FEND];
  for (const b of [type, ...payload]) {
    if (b === FEND) out.push(FESC, TFEND);
    else if (b === FESC) out.push(FESC, TFESC);
    else out.push(b);
  }
  out.push(FEND);
  return Uint8Array.from(out);
}

/** A KISS TNC: data frames on its port go on the air as AX.25; parameters are recorded. */
export class KissTncEmulator extends DeviceEmulator {
  readonly params: { command: number; value: number[] }[] = [];
  /** Frames the TNC refused or repaired, each kind counted (what Dire Wolf would print as an error). */
  readonly errors = { badEscape: 0, tooLong: 0, notAx25: 0, missingValue: 0, unknownCommand: 0 };
  /** [DW] kiss_rec_byte: KS_SEARCHING until a FEND, then KS_COLLECTING. */
  private collecting = false;
  private frame: number[] = [];
  private truncated = false;

  constructor(readonly port = 0) {
    super();
  }

  protected onBytes(chunk: Uint8Array): void {
    for (const b of chunk) {
      if (!this.collecting) {
        // [DW] kiss_rec_byte, KS_SEARCHING: bytes before a FEND are noise and discarded.
        // ([KISS] 2: the leading FEND "flushes out" accumulated garbage.)
        if (b === FEND) {
          this.collecting = true;
          this.frame = [];
        }
        continue;
      }
      if (b === FEND) {
        // [KISS] 2: back-to-back FENDs are not empty frames; [DW] keeps collecting.
        if (this.frame.length === 0) continue;
        const raw = this.frame;
        const truncated = this.truncated;
        this.frame = [];
        this.truncated = false;
        // [DW] kiss_rec_byte goes back to KS_SEARCHING after each frame: the next frame needs its
        // own leading FEND ([KISS] 2: "each frame is both preceded and followed by" a FEND).
        this.collecting = false;
        if (truncated) this.errors.tooLong++;
        this.process(raw);
        continue;
      }
      // [DW] kiss_rec_byte: past MAX_KISS_LEN (which counts the leading FEND) bytes are dropped
      // ("KISS message exceeded maximum length"); what was kept is still processed.
      if (this.frame.length < MAX_KISS_LEN - 1) this.frame.push(b);
      else this.truncated = true;
    }
  }

  private process(raw: number[]): void {
    const { bytes, badEscapes } = unescape(raw);
    this.errors.badEscape += badEscapes;
    if (bytes.length === 0) return;
    // [KISS] 4 / [DW] kiss_process_msg: channel (port) in the upper nibble, command in the lower.
    const type = bytes[0];
    const port = (type >> 4) & 0xf;
    const command = type & 0xf;
    const payload = bytes.subarray(1);
    // [DW] kiss_process_msg: KISS_CMD_END_KISS (0xFF, "Return") is ignored.
    if (command === CMD_RETURN) return;
    // [DW] kiss_process_msg: a data frame for a channel the TNC does not have is refused
    // ("Invalid transmit channel"); this TNC has one port.
    if (port !== this.port) return;
    if (command === CMD_DATA) {
      // [DW] kiss_process_msg hands data frames to ax25_from_frame, which refuses anything shorter
      // than two addresses and a control byte ([DWAX] AX25_MIN_PACKET_LEN); nothing goes on air.
      if (payload.length < AX25_MIN_PACKET_LEN) {
        this.errors.notAx25++;
        return;
      }
      this.airTx(payload.slice());
      return;
    }
    if (command <= CMD_SET_HARDWARE) {
      // [KISS] 4: TXDELAY(1), P(2), SlotTime(3), TXtail(4), FullDuplex(5) carry one value byte;
      // [DW] kiss_process_msg refuses them without one ("Missing value for ... command").
      if (payload.length < 1) {
        this.errors.missingValue++;
        return;
      }
      this.params.push({ command, value: [...payload] });
      return;
    }
    // [DW] kiss_process_msg: 7..14 are "Invalid command" (XKISS 12 and 14 unsupported).
    this.errors.unknownCommand++;
  }

  /** The radio heard an AX.25 frame: [KISS] 4 "only the Data frame code should be sent from the TNC to the host". */
  receiveFromAir(ax25: Uint8Array): void {
    this.send(encapsulate((this.port << 4) | CMD_DATA, ax25));
  }
}
