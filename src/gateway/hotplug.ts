// Watches the directory where udev puts stable radio names (/dev/altnet/<profile>-<n>) and says
// when a device appears or goes, so the gateway can open a link on plug-in and close it on
// unplug without a restart. fs.watch gives prompt notice; a periodic re-scan catches whatever
// it misses (inotify overflow, the directory itself created or removed by udev). Events are
// debounced: udev creates and removes links in bursts, and a connector that bounces must not
// open and close a link several times.
import { EventEmitter } from 'node:events';
import { readdir, stat, watch, type FSWatcher, type Stats } from 'node:fs';
import { basename, dirname, join, normalize } from 'node:path';
import type { Counters } from '../util/counters.js';
import type { Logger } from '../util/log.js';

export interface WatcherTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export const realTimers: WatcherTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (h) => clearInterval(h as NodeJS.Timeout),
};

/** Identity of what a name points at: a name re-pointed to another device counts as gone + appeared. */
export interface DeviceIdentity {
  rdev: number;
  ino: number;
}

export interface DeviceWatcherOptions {
  /** Default /dev/altnet. The directory may not exist yet (udev creates it with the first link). */
  dir?: string;
  log: Logger;
  counters?: Counters;
  /** Safety-net re-scan period, ms. Default 5000. */
  rescanMs?: number;
  /** Quiet time after a filesystem event before scanning, ms. Default 300. */
  debounceMs?: number;
  timers?: WatcherTimers;
  /** Use fs.watch (default true). Off: only the periodic re-scan notices changes. */
  useFsWatch?: boolean;
  /** Which names to consider; default every name not starting with a dot. */
  filter?: (name: string) => boolean;
  /**
   * Whether a path is a usable device now, and its identity; default: stat() following links,
   * a character device. A dangling link (device unplugged, link not yet removed) is not.
   */
  probe?: (path: string) => Promise<DeviceIdentity | undefined>;
}

export interface DeviceWatcherEvents {
  appeared: [path: string];
  gone: [path: string];
}

// node:fs's callback readdir and stat, not node:fs/promises: the daemon's main process loads
// nothing else of fs/promises, whose modules (FileHandle, readline for readLines, streams) cost
// it 0.22 MB of anonymous memory (issue 18; a bare Node with net, child_process, crypto and
// zlib loaded, Pss_Anon median of 3 runs: 6520 kB, 6740 with node:fs/promises).
const listDir = (dir: string) => new Promise<string[]>((ok, fail) => readdir(dir, (err, names) => (err ? fail(err) : ok(names))));
const statPath = (path: string) => new Promise<Stats>((ok, fail) => stat(path, (err, st) => (err ? fail(err) : ok(st))));

async function probeCharDevice(path: string): Promise<DeviceIdentity | undefined> {
  try {
    const st = await statPath(path);
    return st.isCharacterDevice() ? { rdev: st.rdev, ino: st.ino } : undefined;
  } catch {
    return undefined;
  }
}

export class DeviceWatcher extends EventEmitter<DeviceWatcherEvents> {
  readonly dir: string;
  private readonly log: Logger;
  private readonly counters?: Counters;
  private readonly rescanMs: number;
  private readonly debounceMs: number;
  private readonly timers: WatcherTimers;
  private readonly useFsWatch: boolean;
  private readonly filter: (name: string) => boolean;
  private readonly probe: (path: string) => Promise<DeviceIdentity | undefined>;

  private readonly known = new Map<string, DeviceIdentity>();
  private dirWatcher: FSWatcher | undefined;
  private parentWatcher: FSWatcher | undefined;
  private interval: unknown;
  private debounce: unknown;
  private running = false;
  private scanning: Promise<void> | undefined;
  private scanAgain = false;
  private lastDirState: 'present' | 'missing' | undefined;

  constructor(opts: DeviceWatcherOptions) {
    super();
    this.dir = opts.dir ?? '/dev/altnet';
    this.log = opts.log.child('hotplug');
    this.counters = opts.counters;
    this.rescanMs = opts.rescanMs ?? 5000;
    this.debounceMs = opts.debounceMs ?? 300;
    this.timers = opts.timers ?? realTimers;
    this.useFsWatch = opts.useFsWatch ?? true;
    this.filter = opts.filter ?? ((n) => !n.startsWith('.'));
    this.probe = opts.probe ?? probeCharDevice;
  }

  /** Devices present now (full paths), sorted. */
  devices(): string[] {
    return [...this.known.keys()].sort();
  }

  /** Scans once (emitting `appeared` for what is already there) and starts watching. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.interval = this.timers.setInterval(() => void this.rescan(), this.rescanMs);
    this.ensureWatch();
    await this.rescan();
    this.log.info('watching for devices', { dir: this.dir, devices: this.known.size });
  }

  /** Stops watching. Devices still present get no `gone`: the caller is shutting down anyway. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.timers.clearInterval(this.interval);
    if (this.debounce !== undefined) this.timers.clearTimeout(this.debounce);
    this.debounce = undefined;
    this.closeWatchers();
    await this.scanning;
  }

  /** Something may have changed: scan once things have been quiet for the debounce time. */
  poke(): void {
    if (!this.running) return;
    if (this.debounce !== undefined) this.timers.clearTimeout(this.debounce);
    this.debounce = this.timers.setTimeout(() => {
      this.debounce = undefined;
      void this.rescan();
    }, this.debounceMs);
  }

  /** Scans now; resolves once a scan that started after this call has finished. */
  rescan(): Promise<void> {
    if (this.scanning) {
      this.scanAgain = true;
      return this.scanning;
    }
    this.scanning = (async () => {
      try {
        do {
          this.scanAgain = false;
          await this.scanOnce();
        } while (this.scanAgain);
      } finally {
        this.scanning = undefined;
      }
    })();
    return this.scanning;
  }

  /** Resolves when no scan is running. */
  async settled(): Promise<void> {
    while (this.scanning) await this.scanning;
  }

  private async scanOnce(): Promise<void> {
    this.counters?.inc('hotplug.scans');
    let names: string[];
    try {
      names = (await listDir(this.dir)).filter(this.filter);
      this.noteDirState('present');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') {
        this.counters?.inc('hotplug.scan_errors');
        this.log.warn('cannot list device directory', { dir: this.dir, error: (err as Error).message });
        return; // keep what we know rather than report every device gone on a transient error
      }
      this.noteDirState('missing');
      names = [];
    }
    this.ensureWatch();

    const now = new Map<string, DeviceIdentity>();
    for (const n of names.sort()) {
      const path = join(this.dir, n);
      const id = await this.probe(path);
      if (id) now.set(path, id);
    }
    for (const [path, id] of [...this.known]) {
      const cur = now.get(path);
      if (!cur || cur.rdev !== id.rdev || cur.ino !== id.ino) {
        this.known.delete(path);
        this.emitSafely('gone', path);
      }
    }
    for (const [path, id] of now) {
      if (!this.known.has(path)) {
        this.known.set(path, id);
        this.emitSafely('appeared', path);
      }
    }
  }

  private noteDirState(state: 'present' | 'missing'): void {
    if (state === this.lastDirState) return;
    this.lastDirState = state;
    this.log.debug(state === 'present' ? 'device directory present' : 'device directory missing (no device plugged in yet?)', {
      dir: this.dir,
    });
  }

  private emitSafely(event: 'appeared' | 'gone', path: string): void {
    this.counters?.inc(`hotplug.devices.${event}`);
    this.log.info(event === 'appeared' ? 'device appeared' : 'device gone', { path });
    // Each listener on its own: one listener's bug must neither hide the event from the others
    // nor stop the watcher noticing the next plug or unplug.
    for (const listener of this.rawListeners(event) as Array<(p: string) => void>) {
      try {
        listener.call(this, path);
      } catch (err) {
        this.counters?.inc('hotplug.listener_errors');
        this.log.error('device event listener failed', { event, path, error: (err as Error).message });
      }
    }
  }

  private ensureWatch(): void {
    if (!this.running || !this.useFsWatch) return;
    if (!this.dirWatcher) {
      try {
        const w = watch(this.dir, { persistent: false }, () => this.poke());
        w.on('error', () => {
          // The directory went away (udev removes it when empty on some systems); fall back
          // to the parent and the periodic scan until it is back.
          w.close();
          if (this.dirWatcher === w) this.dirWatcher = undefined;
          this.poke();
        });
        this.dirWatcher = w;
        this.parentWatcher?.close();
        this.parentWatcher = undefined;
        return;
      } catch {
        // Not there yet: watch its parent for it being created.
      }
    }
    if (!this.dirWatcher && !this.parentWatcher) {
      const want = basename(this.dir);
      try {
        const w = watch(dirname(this.dir), { persistent: false }, (_ev, name) => {
          if (name === null || name.toString() === want) this.poke();
        });
        w.on('error', () => {
          w.close();
          if (this.parentWatcher === w) this.parentWatcher = undefined;
        });
        this.parentWatcher = w;
      } catch {
        // Parent missing or unwatchable: the periodic re-scan still works.
      }
    }
  }

  private closeWatchers(): void {
    this.dirWatcher?.close();
    this.parentWatcher?.close();
    this.dirWatcher = undefined;
    this.parentWatcher = undefined;
  }
}

/**
 * The configured links (config.links) whose `device` is `path`: what the gateway opens on
 * `appeared(path)` and closes on `gone(path)`.
 */
export function linksForDevice(links: Record<string, Record<string, string>>, path: string): string[] {
  const want = normalize(path);
  return Object.entries(links)
    .filter(([, keys]) => keys.device !== undefined && normalize(keys.device) === want)
    .map(([name]) => name)
    .sort();
}

/**
 * Whether a link's device lives in the watched directory, so the link should wait for
 * `appeared` instead of being opened at start (a fixed port such as /dev/ttyAMA0 is not).
 */
export function isHotplugDevice(device: string, dir: string): boolean {
  const d = normalize(dir).replace(/\/+$/, '');
  return normalize(device).startsWith(d + '/');
}
