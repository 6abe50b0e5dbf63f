// socat pty pairs: `socat -d -d pty,raw,echo=0 pty,raw,echo=0`; the driver opens one end with the
// real serialport, an emulator opens the other.
import { spawn, type ChildProcess } from 'node:child_process';

export interface PtyPair {
  /** The end the driver under test opens. */
  device: string;
  /** The end the board emulator opens. */
  far: string;
  close(): Promise<void>;
}

export async function openPtyPair(): Promise<PtyPair> {
  const child: ChildProcess = spawn('socat', ['-d', '-d', 'pty,raw,echo=0', 'pty,raw,echo=0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const paths: string[] = [];
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`socat did not report two ptys: ${stderr}`)), 10_000);
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      for (const m of stderr.matchAll(/PTY is (\/dev\/pts\/\d+)/g)) if (!paths.includes(m[1])) paths.push(m[1]);
      if (paths.length >= 2 && /starting data transfer loop/.test(stderr)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`socat exited with ${code}: ${stderr}`));
    });
  });
  child.stderr!.removeAllListeners('data');
  child.stderr!.resume();
  return {
    device: paths[0],
    far: paths[1],
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** Polls `cond` until it holds (a wait, not a timing assertion). */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
