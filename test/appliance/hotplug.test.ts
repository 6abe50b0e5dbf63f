import { afterEach, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { SerialPort } from 'serialport';
import { DeviceWatcher, isHotplugDevice, linksForDevice, type WatcherTimers } from '../../src/gateway/hotplug.js';
import { Counters } from '../../src/util/counters.js';
import { memoryLogger, silentLogger } from '../../src/util/log.js';
import { openPtyPair } from '../emulators/pty.js';

/** Timers the test fires by hand: no sleeping, no timing assumptions. */
function manualTimers() {
  let next = 1;
  const timeouts = new Map<number, () => void>();
  const intervals = new Map<number, () => void>();
  const timers: WatcherTimers = {
    setTimeout: (fn) => (timeouts.set(next, fn), next++),
    clearTimeout: (h) => void timeouts.delete(h as number),
    setInterval: (fn) => (intervals.set(next, fn), next++),
    clearInterval: (h) => void intervals.delete(h as number),
  };
  return {
    timers,
    pendingTimeouts: () => timeouts.size,
    fireTimeouts() {
      const fns = [...timeouts.values()];
      timeouts.clear();
      for (const f of fns) f();
    },
    fireIntervals() {
      for (const f of intervals.values()) f();
    },
  };
}

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'altnet-hotplug-'));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

function recorder(w: DeviceWatcher) {
  const events: string[] = [];
  w.on('appeared', (p) => events.push(`+${p}`));
  w.on('gone', (p) => events.push(`-${p}`));
  return events;
}

describe('DeviceWatcher (injected timers, re-scan only)', () => {
  it('reports devices present at start, new ones, removed ones and re-pointed ones', async () => {
    const root = tempDir();
    const dir = join(root, 'altnet');
    const t = manualTimers();
    const counters = new Counters();
    const w = new DeviceWatcher({ dir, log: silentLogger(), counters, timers: t.timers, useFsWatch: false });
    const events = recorder(w);
    cleanups.push(() => w.stop());

    await w.start(); // the directory does not exist yet: nothing, and no error
    expect(events).toEqual([]);

    mkdirSync(dir);
    symlinkSync('/dev/null', join(dir, 'rak3172-0')); // what udev's SYMLINK+= makes
    writeFileSync(join(dir, 'notes.txt'), 'not a device');
    mkdirSync(join(dir, 'by-id'));
    t.fireIntervals();
    await w.settled();
    expect(events).toEqual([`+${join(dir, 'rak3172-0')}`]);
    expect(w.devices()).toEqual([join(dir, 'rak3172-0')]);

    // The same name now points at another device (unplug + replug between two scans).
    unlinkSync(join(dir, 'rak3172-0'));
    symlinkSync('/dev/zero', join(dir, 'rak3172-0'));
    t.fireIntervals();
    await w.settled();
    expect(events.slice(1)).toEqual([`-${join(dir, 'rak3172-0')}`, `+${join(dir, 'rak3172-0')}`]);

    rmSync(dir, { recursive: true });
    t.fireIntervals();
    await w.settled();
    expect(events.slice(3)).toEqual([`-${join(dir, 'rak3172-0')}`]);
    expect(w.devices()).toEqual([]);
    expect(counters.get('hotplug.devices.appeared')).toBe(2);
    expect(counters.get('hotplug.devices.gone')).toBe(2);
  });

  it('debounces: a burst of notices makes one scan, and a device that comes and goes within it makes no event', async () => {
    const dir = tempDir();
    const t = manualTimers();
    const counters = new Counters();
    const w = new DeviceWatcher({ dir, log: silentLogger(), counters, timers: t.timers, useFsWatch: false });
    const events = recorder(w);
    cleanups.push(() => w.stop());
    await w.start();
    const scansAfterStart = counters.get('hotplug.scans');

    symlinkSync('/dev/null', join(dir, 'ch340-0'));
    w.poke();
    unlinkSync(join(dir, 'ch340-0'));
    w.poke();
    w.poke();
    expect(t.pendingTimeouts()).toBe(1);
    t.fireTimeouts();
    await w.settled();
    expect(events).toEqual([]);
    expect(counters.get('hotplug.scans')).toBe(scansAfterStart + 1);
  });

  it('keeps going when a listener throws', async () => {
    const dir = tempDir();
    const t = manualTimers();
    const log = memoryLogger();
    const w = new DeviceWatcher({ dir, log, timers: t.timers, useFsWatch: false });
    w.on('appeared', () => {
      throw new Error('listener bug');
    });
    const events = recorder(w);
    cleanups.push(() => w.stop());
    await w.start();
    symlinkSync('/dev/null', join(dir, 'a-0'));
    symlinkSync('/dev/null', join(dir, 'b-0'));
    t.fireIntervals();
    await w.settled();
    expect(events).toEqual([`+${join(dir, 'a-0')}`, `+${join(dir, 'b-0')}`]);
    expect(log.lines.filter((l) => l.includes('device event listener failed'))).toHaveLength(2);
  });
});

// ---------------------------------------------------------------------------------------------
// Plug and unplug simulated with socat ptys whose `link=` lands in the watched directory, the
// way udev's SYMLINK+= does in /dev/altnet.

interface Pty {
  proc: ChildProcess;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

async function plug(devicePath: string, peerPath: string): Promise<Pty> {
  const pair = await openPtyPair({ links: { device: devicePath, far: peerPath } });
  const pty: Pty = { proc: pair.proc, kill: (signal = 'SIGTERM') => pair.close(signal) };
  cleanups.push(() => pty.kill('SIGKILL'));
  return pty;
}

function nextEvent(w: DeviceWatcher, event: 'appeared' | 'gone'): Promise<string> {
  return new Promise((resolve) => w.once(event, resolve));
}

describe('DeviceWatcher with real ptys and serialport', () => {
  it('notices a plugged device through fs.watch, a serial port on it works, and its unplug is noticed', async () => {
    const dir = tempDir();
    const peers = tempDir();
    const w = new DeviceWatcher({ dir, log: silentLogger(), debounceMs: 20, rescanMs: 3_600_000 });
    cleanups.push(() => w.stop());
    await w.start();
    expect(w.devices()).toEqual([]);

    const appeared = nextEvent(w, 'appeared');
    const pty = await plug(join(dir, 'rak3172-0'), join(peers, 'peer'));
    expect(await appeared).toBe(join(dir, 'rak3172-0'));

    const port = new SerialPort({ path: join(dir, 'rak3172-0'), baudRate: 115200 });
    const peer = new SerialPort({ path: join(peers, 'peer'), baudRate: 115200 });
    cleanups.push(
      () => new Promise<void>((r) => (port.isOpen ? port.close(() => r()) : r())),
      () => new Promise<void>((r) => (peer.isOpen ? peer.close(() => r()) : r())),
    );
    await Promise.all([once(port, 'open'), once(peer, 'open')]);
    const got = once(peer, 'data');
    port.write('AT+VER=?\r\n');
    expect(((await got)[0] as Buffer).toString()).toBe('AT+VER=?\r\n');

    // What the gateway does: close the link's port when its device is gone. (A pty whose far
    // end closes does not error the open port the way a USB hang-up does, so the watcher is
    // what notices here.)
    w.once('gone', (path) => {
      if (path === port.path) port.close();
    });
    const gone = nextEvent(w, 'gone');
    const portClosed = once(port, 'close');
    await pty.kill('SIGTERM'); // socat removes its links, as udev does on unplug
    expect(await gone).toBe(join(dir, 'rak3172-0'));
    await portClosed;
    expect(port.isOpen).toBe(false);
    expect(w.devices()).toEqual([]);
  });

  it('notices the directory being created after start (udev makes /dev/altnet with the first link)', async () => {
    const root = tempDir();
    const dir = join(root, 'altnet');
    const w = new DeviceWatcher({ dir, log: silentLogger(), debounceMs: 20, rescanMs: 3_600_000 });
    cleanups.push(() => w.stop());
    await w.start();
    const appeared = nextEvent(w, 'appeared');
    mkdirSync(dir);
    await plug(join(dir, 'rnode-0'), join(root, 'peer'));
    expect(await appeared).toBe(join(dir, 'rnode-0'));
  });

  it('notices a device that vanished under a link left behind, on the periodic re-scan', async () => {
    const dir = tempDir();
    const peers = tempDir();
    const t = manualTimers();
    const w = new DeviceWatcher({ dir, log: silentLogger(), timers: t.timers, useFsWatch: false });
    const events = recorder(w);
    cleanups.push(() => w.stop());
    await w.start();
    const pty = await plug(join(dir, 'ch340-1'), join(peers, 'peer'));
    t.fireIntervals();
    await w.settled();
    expect(events).toEqual([`+${join(dir, 'ch340-1')}`]);

    await pty.kill('SIGKILL'); // no clean-up: the link stays, dangling
    expect(existsSync(join(dir, 'ch340-1'))).toBe(false); // existsSync follows the link
    t.fireIntervals();
    await w.settled();
    expect(events).toEqual([`+${join(dir, 'ch340-1')}`, `-${join(dir, 'ch340-1')}`]);
  });
});

describe('links and devices', () => {
  const links = {
    lora0: { type: 'lora', board: 'rak3172', device: '/dev/altnet/ch340-0' },
    lora1: { type: 'lora', board: 'rnode', device: '/dev/altnet//ch340-0' },
    tnc: { type: 'kiss', board: 'kiss-tnc', device: '/dev/ttyAMA0' },
    esp: { type: 'esplora', url: 'http://127.0.0.1:3002' },
  };
  it('finds the links configured on a device path', () => {
    expect(linksForDevice(links, '/dev/altnet/ch340-0')).toEqual(['lora0', 'lora1']);
    expect(linksForDevice(links, '/dev/altnet/ch340-1')).toEqual([]);
  });
  it('tells hotplug-managed devices from fixed ports', () => {
    expect(isHotplugDevice('/dev/altnet/ch340-0', '/dev/altnet')).toBe(true);
    expect(isHotplugDevice('/dev/altnet/ch340-0', '/dev/altnet/')).toBe(true);
    expect(isHotplugDevice('/dev/ttyAMA0', '/dev/altnet')).toBe(false);
    expect(isHotplugDevice('/dev/altnet-other/x', '/dev/altnet')).toBe(false);
  });
});
