// USB hotplug at the gateway level: a LoRa link whose device lives in the watched directory is
// not started until the device appears, starts when a board is plugged in (a socat pty whose
// `link=` lands in the directory, as udev's SYMLINK+= does, with an RNode emulator on the far
// end), is stopped cleanly when it is unplugged while the gateway keeps serving its node port,
// and starts again on the next plug-in.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NETWORKS } from '../../src/chain/networks.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { encodeVersion, ipv4Mapped, PROTOCOL_VERSION } from '../../src/node/messages.js';
import { encodeV1Message, V1Decoder } from '../../src/node/wire.js';
import { memoryLogger } from '../../src/util/log.js';
import { RNodeEmulator } from '../emulators/radios/rnode.js';
import { openPtyPair } from '../emulators/pty.js';
import { sleep } from '../harness/bitcoind.js';
import { until } from '../helpers/wait.js';

const REGTEST = NETWORKS.regtest;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

interface Board {
  socat: ChildProcess;
  emulator: RNodeEmulator;
  /** Unplug: socat exits on SIGTERM and removes its links, as udev removes /dev/altnet/<name>. */
  unplug(): Promise<void>;
}

/** Plugs in an emulated RNode: a pty pair, one end linked at `device`, the emulator on the other. */
async function plug(device: string, far: string): Promise<Board> {
  const pair = await openPtyPair({ links: { device, far } });
  const emulator = await new RNodeEmulator().start(far, 115200);
  return {
    socat: pair.proc,
    emulator,
    async unplug() {
      await emulator.stop().catch(() => undefined);
      // socat exits on SIGTERM and removes its links, as udev removes /dev/altnet/<name>.
      await pair.close();
    },
  };
}

/** Opens a P2P connection to the gateway's node port and completes the first step: version in, version out. */
async function versionFromNodePort(port: number): Promise<string> {
  const sock = connect(port, '127.0.0.1');
  try {
    await once(sock, 'connect');
    const addr = { services: 0n, ip: ipv4Mapped(127, 0, 0, 1), port: 0 };
    const payload = encodeVersion({
      version: PROTOCOL_VERSION,
      services: 0n,
      timestamp: BigInt(Math.floor(Date.now() / 1000)),
      addrRecv: addr,
      addrFrom: addr,
      nonce: 0x1234n,
      userAgent: '/hotplug-test/',
      startHeight: 0,
      relay: false,
    });
    sock.write(encodeV1Message(REGTEST.magic, { command: 'version', payload }));
    const decoder = new V1Decoder(REGTEST.magic);
    for await (const chunk of sock) {
      const msgs = decoder.push(new Uint8Array(chunk as Buffer));
      if (msgs.length) return msgs[0].command;
    }
    throw new Error('node port closed the connection without answering');
  } finally {
    sock.destroy();
  }
}

describe('gateway hotplug: a LoRa board on /dev/altnet-like directory', () => {
  const log = memoryLogger();
  let root: string;
  let devicedir: string;
  let device: string;
  let far: string;
  let gw: Gateway;
  const boards: Board[] = [];

  const linkStatus = () => gw.status().links.find((l) => l.name === 'lora0')!;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'altnet-hotplug-gw-'));
    devicedir = join(root, 'altnet');
    device = join(devicedir, 'rnode-0');
    far = join(root, 'far');
    gw = await Gateway.start({
      network: REGTEST,
      listen: { host: '127.0.0.1', port: 0 },
      checkpoint: null,
      log,
      devicedir,
      hotplugRescanMs: 200,
      linkRestartMaxMs: 2000,
      links: [{ name: 'lora0', type: 'lora', options: { type: 'lora', board: 'rnode', device, region: 'US915', sf: '7' } }],
    });
  });

  afterAll(async () => {
    for (const b of boards) await b.unplug();
    await gw?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('waits for the device, opens the link when it is plugged in, closes it on unplug, opens it again on replug', async () => {
    // Not plugged in: no driver process, status says why.
    expect(existsSync(device)).toBe(false);
    expect(gw.link('lora0')).toBeUndefined();
    expect(linkStatus().state).toBe('waiting-for-device');
    await sleep(600); // three re-scans: still nothing to start
    expect(gw.link('lora0')).toBeUndefined();

    // udev creates the directory with its first link; the watcher must notice both.
    mkdirSync(devicedir);
    const first = await plug(device, far);
    boards.push(first);
    await until('link up on the plugged board', () => gw.link('lora0')?.state === 'up');
    expect(linkStatus().state).toBe('up');
    expect(linkStatus().direction).toBe('duplex');
    // The driver really configured the board: radio on, spreading factor 7.
    expect(first.emulator.radioOnline).toBe(true);
    expect(first.emulator.sf).toBe(7);
    const firstPid = gw.link('lora0')!.pid!;
    expect(processAlive(firstPid)).toBe(true);

    await first.unplug();
    expect(existsSync(device)).toBe(false);
    await until('link closed after unplug', () => linkStatus().state === 'waiting-for-device');
    expect(gw.link('lora0')).toBeUndefined();
    await until('driver process gone', () => !processAlive(firstPid));
    // Closed by the gateway, not crashed and restarted: no exit counted, no restart pending.
    expect(gw.counters.get('link.lora0.exits')).toBe(0);
    expect(gw.counters.get('link.lora0.restarts')).toBe(0);
    expect(linkStatus().restarts).toBe(0);
    expect(log.lines.some((l) => l.includes('device unplugged; closing its link') && l.includes('lora0'))).toBe(true);
    await sleep(600);
    expect(gw.link('lora0')).toBeUndefined();

    // The gateway itself kept running: its node port still speaks P2P.
    expect(await versionFromNodePort(gw.nodePort)).toBe('version');

    const second = await plug(device, far);
    boards.push(second);
    await until('link up again on replug', () => gw.link('lora0')?.state === 'up');
    expect(linkStatus().state).toBe('up');
    expect(gw.link('lora0')!.pid).not.toBe(firstPid);
    expect(second.emulator.radioOnline).toBe(true);
    expect(log.lines.filter((l) => l.includes('device plugged in; opening its link') && l.includes('lora0'))).toHaveLength(2);
  });
});
