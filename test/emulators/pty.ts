// The one socat pty pair of the tests: `socat -d -d pty,raw,echo=0[,link=A] pty,raw,echo=0[,link=B]`.
// The driver under test opens one end with the real serialport (or noble's UART HCI), an emulator
// opens the other. With `links`, socat also creates symlinks at the given paths, the way udev's
// SYMLINK+= does in /dev/altnet, and removes them when it exits (an unplug).
import { spawn, type ChildProcess } from 'node:child_process';
import { SerialPort } from 'serialport';

export interface PtyPair {
  /** The end the driver under test opens (the link path when `links` was given). */
  device: string;
  /** The end the board emulator opens. */
  far: string;
  proc: ChildProcess;
  /** Stops socat (SIGTERM unless told otherwise; SIGKILL if it lingers) and waits for it. */
  close(signal?: NodeJS.Signals): Promise<void>;
}

export interface PtyPairOptions {
  /** Symlinks for the two ends, created by socat and removed when it exits. */
  links?: { device: string; far: string };
}

export async function openPtyPair(opts: PtyPairOptions = {}): Promise<PtyPair> {
  const end = (link?: string) => (link ? `pty,raw,echo=0,link=${link}` : 'pty,raw,echo=0');
  const proc: ChildProcess = spawn('socat', ['-d', '-d', end(opts.links?.device), end(opts.links?.far)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const paths: string[] = [];
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`socat did not report two ptys: ${stderr}`)), 10_000);
    proc.stderr!.on('data', (d: Buffer) => {
      if (stderr.length < 65_536) stderr += d.toString();
      for (const m of stderr.matchAll(/PTY is (\/dev\/pts\/\d+)/g)) if (!paths.includes(m[1])) paths.push(m[1]);
      // socat logs "starting data transfer loop" once both ptys (and their links) exist.
      if (paths.length >= 2 && /starting data transfer loop/.test(stderr)) {
        clearTimeout(timer);
        resolve();
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`socat exited with ${code}: ${stderr}`));
    });
    proc.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
  proc.stderr!.removeAllListeners('data');
  proc.stderr!.resume();
  return {
    device: opts.links?.device ?? paths[0],
    far: opts.links?.far ?? paths[1],
    proc,
    async close(signal = 'SIGTERM') {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill(signal);
      const lingering = setTimeout(() => proc.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(lingering);
    },
  };
}

/**
 * Opens the emulator's end of a pty pair with the real serialport at 8N1, no flow control (a
 * USB-serial modem's usual setting); `onData` gets what the host writes. Errors after opening
 * (the host side closing the pty) are not the emulator's failure and are ignored.
 */
export async function openFarEnd(path: string, baudRate: number, onData: (chunk: Buffer) => void): Promise<SerialPort> {
  const port = new SerialPort({ path, baudRate, dataBits: 8, stopBits: 1, parity: 'none', rtscts: false, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
  port.on('data', onData);
  port.on('error', () => undefined);
  return port;
}

/** Closes what openFarEnd opened (nothing when it is closed already). */
export async function closeFarEnd(port: SerialPort | null | undefined): Promise<void> {
  if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
}
