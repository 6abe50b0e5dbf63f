// Helpers around Debian's direwolf tools: gen_packets (text packet -> AFSK 1200 WAV), atest
// (WAV -> decoded frames, hex), and a direwolf daemon with UDP audio in, null audio out and its
// KISS TCP port, all on loopback with free ports.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { decodeAx25Ui, formatCallsign } from '../../src/links/kiss/ax25.js';

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

/**
 * Direwolf's monitor format for an AX.25 UI frame: printable ASCII as is, every other byte (and
 * '<', which starts an escape) as <0xNN>. gen_packets reads lines of at most 399 characters.
 */
export function monitorText(ax25: Uint8Array): string {
  const f = decodeAx25Ui(ax25);
  const path = [formatCallsign(f.destination), ...f.digipeaters.map(formatCallsign)].join(',');
  const info = [...f.info].map((b) => (b >= 0x20 && b < 0x7f && b !== 0x3c ? String.fromCharCode(b) : `<0x${b.toString(16).padStart(2, '0')}>`)).join('');
  if (info.length + path.length + 12 > 399) throw new RangeError('frame too long for a gen_packets text line');
  return `${formatCallsign(f.source)}>${path}:${info}`;
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
      cur!.push(...m[2].trim().split(/\s+/).map((h) => parseInt(h, 16)));
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
    [`ADEVICE udp:${audioPort} null`, 'ARATE 44100', 'ACHANNELS 1', 'CHANNEL 0', 'MYCALL N0CALL', 'MODEM 1200', `KISSPORT ${kissPort}`, 'AGWPORT 0', ''].join('\n'),
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
