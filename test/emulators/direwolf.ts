// Helpers around Debian's direwolf tools: gen_packets (text packet -> AFSK 1200 WAV), atest
// (WAV -> decoded frames, hex), a direwolf daemon with UDP audio in, null audio out and its
// KISS TCP port, and two direwolf daemons joined through real-time audio (a real AFSK 1200
// link between two KISS TCP ports, no sound card), all on loopback with free ports. Imports nothing from src/: the AX.25 reading
// that monitorText needs is written here from the AX.25 2.2 spec and Dire Wolf's own code.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { closeSync, constants, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
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

/** Why the Dire Wolf tests cannot run here, or undefined when they can (direwolf on the PATH). */
export function direwolfMissing(): string | undefined {
  const dirs = (process.env.PATH ?? '').split(':').filter(Boolean);
  if (dirs.some((d) => existsSync(join(d, 'direwolf')))) return undefined;
  return 'direwolf is not installed (Debian: apt-get install direwolf; scripts/setup.sh installs it)';
}

/** One direwolf process with its KISS TCP port, started from a config file of ours. */
export interface DirewolfProcess {
  kissPort: number;
  audioPort: number;
  /** What direwolf printed (the last 256 kB). */
  output(): string;
  /** Whether it is still running. */
  running(): boolean;
  stop(): Promise<void>;
}

const OUTPUT_KEEP = 256 * 1024;
/** Every direwolf started by this process, killed if the test process exits without stopping them. */
const live = new Set<ChildProcess>();
let exitHook = false;

/**
 * Starts direwolf with the config `conf(audioPort, kissPort)` on fresh loopback ports and waits
 * for its KISS TCP listener ("Ready to accept KISS TCP client", printed by kissnet.c once the
 * port is bound). Ports are free when chosen but another process may take them first: direwolf
 * then exits (it cannot bind), and we try again with new ones.
 */
async function spawnDirewolf(
  dir: string,
  conf: (audioPort: number, kissPort: number) => string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<DirewolfProcess> {
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    const kissPort = await freeTcpPort();
    const audioPort = await freeUdpPort();
    const file = join(dir, 'direwolf.conf');
    writeFileSync(file, conf(audioPort, kissPort));
    // -t 0: no colour escapes in the output we parse.
    const child: ChildProcess = spawn('direwolf', ['-c', file, '-t', '0'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    if (!exitHook) {
      exitHook = true;
      process.once('exit', () => {
        for (const c of live) c.kill('SIGKILL');
      });
    }
    let out = '';
    const take = (d: Buffer) => {
      out += d.toString('latin1');
      if (out.length > OUTPUT_KEEP * 2) out = out.slice(-OUTPUT_KEEP);
    };
    child.stdout!.on('data', take);
    child.stderr!.on('data', take);
    const exited = new Promise<void>((resolve) => child.once('exit', () => (live.delete(child), resolve())));
    const ready = await new Promise<boolean>((resolve, reject) => {
      const timer = setInterval(() => {
        if (/Ready to accept KISS TCP client/.test(out)) done(true);
      }, 20);
      const deadline = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`direwolf did not open its KISS port within 20 s:\n${out}`));
      }, 20_000);
      const done = (ok: boolean) => {
        clearInterval(timer);
        clearTimeout(deadline);
        resolve(ok);
      };
      child.once('error', (err) => (clearInterval(timer), clearTimeout(deadline), reject(err)));
      void exited.then(() => done(false));
    });
    if (!ready) {
      lastError = new Error(`direwolf exited before its KISS port was ready (attempt ${attempt + 1}):\n${out}`);
      continue;
    }
    return {
      kissPort,
      audioPort,
      output: () => out,
      running: () => child.exitCode === null && child.signalCode === null,
      async stop() {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(killer);
      },
    };
  }
  throw lastError!;
}

export interface Direwolf extends DirewolfProcess {
  /** Streams PCM into direwolf's UDP audio input, then some silence to flush the demodulator. */
  play(samples: Buffer): Promise<void>;
}

/** One direwolf with UDP audio in, ALSA's null device out (transmissions are logged, not heard). */
export async function startDirewolf(dir: string): Promise<Direwolf> {
  const dw = await spawnDirewolf(dir, (audioPort, kissPort) =>
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
  const udp = createSocket('udp4');
  return {
    ...dw,
    async play(samples) {
      const silence = Buffer.alloc(samples.length > 0 ? 44100 : 0);
      const all = Buffer.concat([silence.subarray(0, 8820), samples, silence]);
      for (let i = 0; i < all.length; i += 1024) {
        await new Promise<void>((res, rej) => udp.send(all.subarray(i, i + 1024), dw.audioPort, '127.0.0.1', (e) => (e ? rej(e) : res())));
        if ((i / 1024) % 16 === 0) await new Promise((r) => setTimeout(r, 1));
      }
    },
    async stop() {
      udp.close();
      await dw.stop();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Two (or more) direwolf instances joined through audio: a real AFSK 1200 modem link with no
// sound card. Dire Wolf 1.6 (Debian's) reads audio from "udp:PORT" (src/audio.c, audio_open:
// "New in version 1.0, we recognize udp: optionally followed by a port number"; raw 16-bit
// little-endian samples, at most SDR_UDP_BUF_MAXLEN = 2000 bytes a datagram, src/audio.h) and
// writes it only to an ALSA device (1.6 has no stdout output). The output device is ALSA's
// "file" PCM plugin over the "null" PCM, defined in the station's own ~/.asoundrc (HOME is the
// station's directory): the plugin writes the raw samples into a FIFO we read.
//
// The air between them (AfskAir below) is ours and plays each station's audio to the others in
// real time, with silence in between:
//  - Dire Wolf writes a transmission's audio at once and then keeps PTT on for the computed
//    duration (src/xmit.c xmit_thread: "Calculate how long it will take to transmit the frame
//    including TXDELAY, frame ... and TXTAIL ... wait for additional time if required"), so the
//    air must pace the samples at the sample rate for the frames to take their real airtime.
//  - Dire Wolf waits for a clear channel before keying up (src/xmit.c wait_for_clear_channel:
//    while hdlc_rec_data_detect_any(chan) sleep), judged by the DCD of its demodulator on the
//    audio it hears. The audio therefore never stops: after a frame the receiver hears silence,
//    its DCD drops, and it may transmit.
//  - One frequency, half duplex: a station that transmits hears nothing (its receiver is muted
//    while keyed, as a real transceiver's), and two stations keyed at once both reach the third
//    only as a sum of their signals, which the demodulator cannot decode (a collision).
// ---------------------------------------------------------------------------------------------

/** Samples per second on the joined audio (Dire Wolf's default ARATE). */
export const AFSK_AIR_RATE = 44100;
/** Samples per UDP datagram: 1000 bytes, under Dire Wolf's 2000-byte receive buffer. */
const DATAGRAM_SAMPLES = 500;

export interface AfskAirStats {
  /** Audio each station put on the air, ms. */
  transmittedMs: number[];
  /** Time two or more stations were keyed at once, ms (their frames collide). */
  overlapMs: number;
}

/** Real-time audio between stations: each station's FIFO output to every other's UDP input. */
class AfskAir {
  private readonly queues: Buffer[][];
  private readonly sockets: { send(b: Buffer, port: number): void; close(): void };
  private timer: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private samplesSent = 0;
  readonly stats: AfskAirStats;

  constructor(
    private readonly inputPorts: number[],
    private readonly rate = AFSK_AIR_RATE,
  ) {
    this.queues = inputPorts.map(() => []);
    this.stats = { transmittedMs: inputPorts.map(() => 0), overlapMs: 0 };
    const udp = createSocket('udp4');
    this.sockets = { send: (b, port) => udp.send(b, port, '127.0.0.1'), close: () => udp.close() };
  }

  /** Audio a station transmitted (16-bit mono samples, as its FIFO delivered them). */
  transmit(station: number, pcm: Buffer): void {
    this.queues[station].push(pcm);
  }

  start(): void {
    this.startedAt = performance.now();
    this.timer = setInterval(() => this.tick(), 10);
  }

  stop(): void {
    clearInterval(this.timer);
    this.sockets.close();
  }

  /** Takes up to n samples of a station's queued audio, padded with silence. */
  private take(station: number, n: number): { pcm: Buffer; keyed: number } {
    const pcm = Buffer.alloc(n * 2);
    let at = 0;
    const q = this.queues[station];
    while (at < pcm.length && q.length) {
      const head = q[0];
      const k = Math.min(head.length, pcm.length - at) & ~1;
      if (k === 0) {
        // An odd byte at the end of a chunk: join it with the next one.
        q.shift();
        if (q.length) q[0] = Buffer.concat([head, q[0]]);
        continue;
      }
      head.copy(pcm, at, 0, k);
      at += k;
      if (k === head.length) q.shift();
      else q[0] = head.subarray(k);
    }
    return { pcm, keyed: at / 2 };
  }

  private tick(): void {
    const due = Math.floor(((performance.now() - this.startedAt) * this.rate) / 1000) - this.samplesSent;
    // A stalled event loop catches up at most a second per tick (the audio keeps its order).
    const n = Math.min(due - (due % DATAGRAM_SAMPLES), this.rate);
    if (n <= 0) return;
    this.samplesSent += n;
    const chunks = this.queues.map((_, i) => this.take(i, n));
    chunks.forEach((c, i) => (this.stats.transmittedMs[i] += (c.keyed / this.rate) * 1000));
    const keyedNow = chunks.filter((c) => c.keyed > 0);
    if (keyedNow.length > 1) this.stats.overlapMs += (Math.min(...keyedNow.map((c) => c.keyed)) / this.rate) * 1000;
    this.inputPorts.forEach((port, j) => {
      const heard = Buffer.alloc(n * 2);
      // A keyed station's receiver is muted; otherwise it hears the sum of the others.
      if (chunks[j].keyed === 0) {
        for (let s = 0; s < n; s++) {
          let v = 0;
          chunks.forEach((c, i) => {
            if (i !== j) v += c.pcm.readInt16LE(s * 2);
          });
          heard.writeInt16LE(Math.max(-32768, Math.min(32767, v)), s * 2);
        }
      }
      for (let s = 0; s < n; s += DATAGRAM_SAMPLES) this.sockets.send(heard.subarray(s * 2, (s + DATAGRAM_SAMPLES) * 2), port);
    });
  }
}

export interface DirewolfStation extends DirewolfProcess {
  callsign: string;
}

export interface DirewolfPair {
  stations: DirewolfStation[];
  /** Audio statistics of the joined air. */
  stats(): AfskAirStats;
  /** Every station's output, for a failing test's diagnosis. */
  diag(): string;
  stop(): Promise<void>;
}

export interface DirewolfPairOptions {
  /** Dire Wolf config lines added to every station (e.g. TXDELAY 30, DWAIT 0). */
  extraConfig?: string[];
}

/**
 * Starts two direwolf stations joined through AfskAir (see above), each with its KISS TCP port
 * on loopback. Stop it in teardown: it kills both processes.
 */
export async function startDirewolfPair(wd: string, opts: DirewolfPairOptions = {}): Promise<DirewolfPair> {
  const stations: DirewolfStation[] = [];
  const fifos: Array<{ socket: Socket; holdFd: number }> = [];
  let air: AfskAir | undefined;
  const pending: Buffer[][] = [[], []];
  const stop = async () => {
    air?.stop();
    await Promise.all(stations.map((s) => s.stop()));
    for (const f of fifos) {
      f.socket.destroy();
      closeSync(f.holdFd);
    }
  };
  try {
    for (const [i, callsign] of ['N0CALL-1', 'N0CALL-2'].entries()) {
      const dir = join(wd, `station${i}`);
      mkdirSync(dir, { recursive: true });
      const fifo = join(dir, 'tx.pcm');
      await run('mkfifo', [fifo]);
      // Our read end first (non-blocking, so opening does not wait for a writer), then a write
      // end we hold and never use: without one, the FIFO would read as ended whenever direwolf
      // has not opened it yet.
      const readFd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
      const holdFd = openSync(fifo, constants.O_WRONLY);
      const socket = new Socket({ fd: readFd, readable: true, writable: false });
      fifos.push({ socket, holdFd });
      socket.on('data', (b: Buffer) => (air ? air.transmit(i, b) : pending[i].push(b)));
      // ALSA's file plugin (alsa-lib pcm_file.c): "type file", a slave PCM, the file to write,
      // format raw (no WAV header). The null slave takes the samples and discards them.
      writeFileSync(
        join(dir, '.asoundrc'),
        ['pcm.altnet_air {', '  type file', '  slave.pcm "null"', `  file "${fifo}"`, '  format "raw"', '}', ''].join('\n'),
      );
      const dw = await spawnDirewolf(
        dir,
        (audioPort, kissPort) =>
          [
            `ADEVICE udp:${audioPort} altnet_air`,
            `ARATE ${AFSK_AIR_RATE}`,
            'ACHANNELS 1',
            'CHANNEL 0',
            `MYCALL ${callsign}`,
            'MODEM 1200',
            `KISSPORT ${kissPort}`,
            'AGWPORT 0',
            ...(opts.extraConfig ?? []),
            '',
          ].join('\n'),
        { ...process.env, HOME: dir },
      );
      stations.push({ ...dw, callsign });
    }
    air = new AfskAir(stations.map((s) => s.audioPort));
    pending.forEach((chunks, i) => chunks.forEach((b) => air!.transmit(i, b)));
    air.start();
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    stations,
    stats: () => structuredClone(air!.stats),
    diag: () => stations.map((s, i) => `--- direwolf ${i} (${s.callsign}) ---\n${s.output().slice(-3000)}`).join('\n'),
    stop,
  };
}
