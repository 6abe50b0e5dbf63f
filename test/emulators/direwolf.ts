// Helpers around Debian's direwolf tools: gen_packets (text packet -> AFSK 1200 WAV), atest
// (WAV -> decoded frames, hex), and a direwolf daemon with UDP audio in, null audio out and its
// KISS TCP port, all on loopback with free ports. Imports nothing from src/: the AX.25 reading
// that monitorText needs is written here from the AX.25 2.2 spec and Dire Wolf's own code.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export async function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function freeUdpPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.bind(0, '127.0.0.1', () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}

// AX.25 UI frame layout, from the AX.25 link-layer spec (ARRL; v2.0 1984 numbering, kept in 2.2 as
// section 3.12 for addresses), sections cited per rule, and Dire Wolf's src/ax25_pad.c (its header
// comment describes the same layout as APRS uses it).

/** One address subfield: six characters, each shifted left one bit, then the SSID octet. */
interface Ax25Address {
  call: string;
  ssid: number;
  /** Bit 7 of the SSID octet: C (command/response) for destination and source, H for a repeater. */
  bit7: boolean;
}

function readAddress(b: Uint8Array, at: number): Ax25Address {
  let call = '';
  for (let i = 0; i < 6; i++) {
    // AX.25 2.2.13 Address-Field Encoding: "the amateur Radio call sign information is shifted one bit left"
    // to make room for the HDLC extension bit, which is 0 in every callsign octet.
    if (b[at + i] & 1) throw new RangeError(`AX.25 address octet ${at + i} has its extension bit set inside a callsign`);
    call += String.fromCharCode(b[at + i] >> 1);
  }
  // 2.2.13.1 (notes to the address figure): callsigns shorter than six characters are padded with spaces.
  call = call.replace(/ +$/, '');
  // 2.2.13: "upper-case alpha and numeric ASCII characters only".
  if (!/^[A-Z0-9]{1,6}$/.test(call))
    throw new RangeError(`AX.25 callsign ${JSON.stringify(call)} is not 1-6 upper-case letters and digits`);
  // 2.2.13.1/2.2.13.2: the SSID octet is C R R S S S S X (H instead of C for a repeater), SSID in
  // bits 4..1, reserved bits normally 1 (also ax25_pad.c: "C R R SSID 0", "H R R SSID 0").
  const octet = b[at + 6];
  return { call, ssid: (octet >> 1) & 0x0f, bit7: (octet & 0x80) !== 0 };
}

/** Dire Wolf's text form of an address: CALL, or CALL-SSID when the SSID is not 0. */
const addressText = (a: Ax25Address) => (a.ssid === 0 ? a.call : `${a.call}-${a.ssid}`);

/**
 * Dire Wolf's monitor format ("TNC-2" format, src/ax25_pad.c ax25_from_text) for an AX.25 UI
 * frame: SOURCE>DEST[,DIGI...]:info. The information part is printable ASCII as is and every other
 * byte (and '<', which starts an escape) as <0xNN>, which ax25_from_text turns back into one byte.
 * A repeater whose H bit is set is written with '*' after the last such one (ax25_pad.c: "an
 * asterisk is displayed after the last digipeater with the H bit set"). gen_packets reads lines of
 * at most 399 characters.
 *
 * Anything gen_packets would not rebuild byte for byte is refused: only UI frames with PID 0xF0
 * can be written this way (ax25_from_text always builds control 0x03 and PID 0xF0).
 */
export function monitorText(ax25: Uint8Array): string {
  // 2.2.13: the address field is extended octet by octet; the extension bit (bit 0) is 1 only in
  // the last octet of the address field. Each subfield is 7 octets: destination, source, then the
  // repeaters (2.2.13.2); Dire Wolf allows up to 8 (ax25_pad.c: "0-8 Digipeater Addresses").
  let end = -1;
  for (let i = 0; i < ax25.length; i++) {
    if (ax25[i] & 1) {
      end = i + 1;
      break;
    }
  }
  if (end < 0 || end % 7 !== 0 || end < 14 || end > 70)
    throw new RangeError(`AX.25 address field of ${end} octets: expected 14-70, a multiple of 7`);
  const addresses: Ax25Address[] = [];
  for (let at = 0; at < end; at += 7) addresses.push(readAddress(ax25, at));
  const [destination, source, ...repeaters] = addresses;
  // Unnumbered Information frame: control 000P0011, 0x03 with P clear (the spec's U-frame control
  // table; ax25_pad.c: "APRS uses 3 for UI frame"). Dire Wolf's text form has no P bit, so only
  // 0x03 round-trips.
  const control = ax25[end];
  if (control !== 0x03)
    throw new RangeError(`AX.25 control 0x${(control ?? 0).toString(16)}: only a UI frame (0x03) has a monitor text form`);
  // 2.2.4 PID field: 0xF0 = "No layer 3 protocol implemented" (ax25_pad.c AX25_PID_NO_LAYER_3).
  const pid = ax25[end + 1];
  if (pid !== 0xf0) throw new RangeError(`AX.25 PID 0x${(pid ?? 0).toString(16)}: gen_packets only writes PID 0xF0`);
  const info = ax25.subarray(end + 2);
  let lastHeard = -1;
  repeaters.forEach((r, i) => {
    if (r.bit7) lastHeard = i;
  });
  const path = [addressText(destination), ...repeaters.map((r, i) => addressText(r) + (i === lastHeard ? '*' : ''))].join(',');
  const text = [...info]
    .map((b) => (b >= 0x20 && b < 0x7f && b !== 0x3c ? String.fromCharCode(b) : `<0x${b.toString(16).padStart(2, '0')}>`))
    .join('');
  const line = `${addressText(source)}>${path}:${text}`;
  if (line.length > 399) throw new RangeError('frame too long for a gen_packets text line');
  return line;
}

export interface Workdir {
  dir: string;
  remove(): void;
}

export function workdir(): Workdir {
  const dir = mkdtempSync(join(tmpdir(), 'altnet-dw-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** gen_packets: monitor-format text -> 44.1 kHz 16-bit mono AFSK 1200 WAV. */
export async function genPackets(dir: string, text: string, name = 'tx'): Promise<string> {
  const txt = join(dir, `${name}.txt`);
  const wav = join(dir, `${name}.wav`);
  writeFileSync(txt, text); // no trailing newline: it would become part of the info field
  await run('gen_packets', ['-o', wav, txt]);
  return wav;
}

/** atest -h: every frame decoded from the WAV, as raw AX.25 bytes (no FCS). */
export async function atestFrames(wav: string): Promise<Uint8Array[]> {
  const { stdout } = await run('atest', ['-h', wav], { encoding: 'latin1', maxBuffer: 16 << 20 });
  const frames: Uint8Array[] = [];
  let cur: number[] | undefined;
  for (const line of stdout.split('\n')) {
    const m = /^\s+([0-9a-f]{3}):\s+((?:[0-9a-f]{2} ?)+)/.exec(line);
    if (m) {
      if (m[1] === '000') {
        cur = [];
        frames.push(cur as unknown as Uint8Array);
      }
      cur!.push(
        ...m[2]
          .trim()
          .split(/\s+/)
          .map((h) => parseInt(h, 16)),
      );
    }
  }
  return frames.map((f) => Uint8Array.from(f as unknown as number[]));
}

/** The PCM samples of a canonical 44-byte-header WAV. */
export function wavSamples(wav: string): Buffer {
  const b = readFileSync(wav);
  const data = b.indexOf('data');
  return b.subarray(data + 8);
}

export interface Direwolf {
  kissPort: number;
  audioPort: number;
  output(): string;
  /** Streams PCM into direwolf's UDP audio input, then some silence to flush the demodulator. */
  play(samples: Buffer): Promise<void>;
  stop(): Promise<void>;
}

export async function startDirewolf(dir: string): Promise<Direwolf> {
  const kissPort = await freeTcpPort();
  const audioPort = await freeUdpPort();
  const conf = join(dir, 'direwolf.conf');
  writeFileSync(
    conf,
    [
      `ADEVICE udp:${audioPort} null`,
      'ARATE 44100',
      'ACHANNELS 1',
      'CHANNEL 0',
      'MYCALL N0CALL',
      'MODEM 1200',
      `KISSPORT ${kissPort}`,
      'AGWPORT 0',
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('direwolf', ['-c', conf, '-t', '0'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString('latin1')));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString('latin1')));
  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (/Ready to accept KISS TCP client/.test(out)) {
        clearInterval(timer);
        resolve();
      }
    }, 20);
    child.once('exit', (code) => {
      clearInterval(timer);
      reject(new Error(`direwolf exited with ${code}: ${out}`));
    });
  });
  const udp = createSocket('udp4');
  return {
    kissPort,
    audioPort,
    output: () => out,
    async play(samples) {
      const silence = Buffer.alloc(samples.length > 0 ? 44100 : 0);
      const all = Buffer.concat([silence.subarray(0, 8820), samples, silence]);
      for (let i = 0; i < all.length; i += 1024) {
        await new Promise<void>((res, rej) => udp.send(all.subarray(i, i + 1024), audioPort, '127.0.0.1', (e) => (e ? rej(e) : res())));
        if ((i / 1024) % 16 === 0) await new Promise((r) => setTimeout(r, 1));
      }
    },
    stop: () =>
      new Promise<void>((resolve) => {
        udp.close();
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
