// kill -9 loses no pending transaction: the real `altnet run` daemon with a recording link
// driver sends a queued transaction, is killed with SIGKILL, is restarted on the same
// datadir, and sends it again (and still lists it as pending in `altnet status`).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, sleep } from '../harness/bitcoind.js';
import type { GatewayStatus } from '../../src/gateway/gateway.js';
import { CLI, makeTx, runCli } from './send-tx-helpers.js';

/** A link driver (type=module) that appends every transaction it is asked to send to a file. */
const RECORDER = `
import { appendFileSync } from 'node:fs';
export async function createLink(name, options, ctx) {
  return {
    name,
    capabilities: { direction: 'duplex', mtu: 200, bitrate: 1000, dutyCycle: 1, carries: ['tx'], needsCallsign: false },
    async start() { ctx.events.state('up'); },
    async stop() {},
    async sendTx(raw) { appendFileSync(options.out, Buffer.from(raw).toString('hex') + '\\n'); },
  };
}
`;

describe('send-tx survives kill -9 of the daemon', () => {
  let root: string;
  let datadir: string;
  let driver: string;
  let daemons: ChildProcess[] = [];

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'altnet-sendtx-kill-'));
    datadir = join(root, 'data');
    driver = join(root, 'recorder.mjs');
    writeFileSync(driver, RECORDER);
  });
  afterEach(async () => {
    for (const d of daemons) if (d.exitCode === null && d.signalCode === null) d.kill('SIGKILL');
    daemons = [];
    await sleep(200); // the drivers exit when their channel to the dead daemon closes
    rmSync(root, { recursive: true, force: true });
  });

  async function startDaemon(sentLog: string): Promise<{ proc: ChildProcess; output: () => string }> {
    const port = await freePort();
    const env = { ...process.env };
    delete env.ALTNET_CONF;
    const proc = spawn(
      process.execPath,
      [
        CLI,
        'run',
        '--conf=none',
        '-regtest',
        `-datadir=${datadir}`,
        `-listen=127.0.0.1:${port}`,
        `-devicedir=${join(root, 'dev')}`,
        '-link.rec.type=module',
        `-link.rec.path=${driver}`,
        `-link.rec.out=${sentLog}`,
      ],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    daemons.push(proc);
    let output = '';
    proc.stdout!.on('data', (b) => (output += b));
    proc.stderr!.on('data', (b) => (output += b));
    return { proc, output: () => output };
  }

  async function waitFor<T>(what: string, probe: () => T | undefined | false, log: () => string, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = probe();
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n--- daemon ---\n${log().slice(-3000)}`);
      await sleep(100);
    }
  }

  const sentLines = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);
  const statusFile = () => {
    try {
      return JSON.parse(readFileSync(join(datadir, 'status.json'), 'utf8')) as GatewayStatus;
    } catch {
      return undefined;
    }
  };

  it('the pending transaction is still pending after SIGKILL and is sent again by the restarted daemon', async () => {
    const tx = makeTx(42);
    // Queued before any daemon runs: --queue-only.
    const queued = await runCli(['send-tx', tx.toHex(), '--conf=none', '-regtest', `-datadir=${datadir}`, '--queue-only']);
    expect(queued.code).toBe(0);

    const sent1 = join(root, 'sent1.log');
    const first = await startDaemon(sent1);
    await waitFor('the first send on the link', () => sentLines(sent1).includes(tx.toHex()), first.output);
    const st1 = await waitFor(
      'status listing the pending tx',
      () => statusFile()?.pendingTx?.find((p) => p.txid === tx.getId() && p.attempts >= 1),
      first.output,
    );
    expect(st1.lastLinks).toEqual(['rec']);

    const killed = new Promise<NodeJS.Signals | null>((r) => first.proc.once('exit', (_c, sig) => r(sig)));
    first.proc.kill('SIGKILL');
    expect(await killed).toBe('SIGKILL');
    expect(existsSync(join(datadir, 'outbox', 'regtest', `${tx.getId()}.json`))).toBe(true);

    const sent2 = join(root, 'sent2.log');
    const second = await startDaemon(sent2);
    await waitFor('the send after restart', () => sentLines(sent2).includes(tx.toHex()), second.output);
    // The killed daemon's datadir lock was stale, and the new daemon said it took it over.
    expect(second.output()).toContain('taking over a stale datadir lock');
    await waitFor(
      'status after restart',
      () => statusFile()?.pendingTx?.some((p) => p.txid === tx.getId() && p.attempts >= 1),
      second.output,
    );

    // A transaction queued while the daemon runs is picked up without a restart.
    const tx2 = makeTx(43);
    const q2 = await runCli(['send-tx', tx2.toHex(), '--conf=none', '-regtest', `-datadir=${datadir}`]);
    expect(q2.code).toBe(0);
    expect(q2.stderr).not.toMatch(/no daemon/);
    await waitFor('the second transaction sent', () => sentLines(sent2).includes(tx2.toHex()), second.output);

    await waitFor('status with both pending', () => (statusFile()?.pendingTx?.length ?? 0) === 2, second.output);
    const status = await runCli(['status', '--conf=none', '-regtest', `-datadir=${datadir}`]);
    expect(status.stdout).toMatch(/pending tx:/);
    expect(status.stdout).toContain(tx.getId());
    expect(status.stdout).toContain(tx2.getId());
    expect(second.output()).toMatch(/pending transaction picked up/);
  });
});
