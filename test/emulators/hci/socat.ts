// A socat pty pair: two pseudo-terminals wired back to back. One end goes to the code under
// test (noble's UART HCI driver), the other to the controller emulator.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PtyPair {
  /** The end the host stack (noble) opens. */
  hostPath: string;
  /** The end the controller emulator opens. */
  controllerPath: string;
  close(): Promise<void>;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

export async function openPtyPair(): Promise<PtyPair> {
  const dir = await mkdtemp(join(tmpdir(), 'altnet-hci-'));
  const hostPath = join(dir, 'host');
  const controllerPath = join(dir, 'controller');
  const proc: ChildProcess = spawn(
    'socat',
    ['-d', '-d', `pty,raw,echo=0,link=${hostPath}`, `pty,raw,echo=0,link=${controllerPath}`],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => {
    if (stderr.length < 8192) stderr += d.toString();
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));

  const close = async (): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    }
    await rm(dir, { recursive: true, force: true });
  };

  for (let i = 0; i < 200; i++) {
    if ((await exists(hostPath)) && (await exists(controllerPath))) {
      return { hostPath, controllerPath, close };
    }
    if (proc.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  await close();
  throw new Error(`socat did not create the pty pair: ${stderr}`);
}
