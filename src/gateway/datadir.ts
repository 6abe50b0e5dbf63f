// The datadir: created with errors that say what to do, and locked so one daemon owns it.
// The lock file (<datadir>/altnet.lock, JSON) names the owner's pid, network, mode and listen
// address; `altnet send-tx` reads it to know whether a daemon will pick up what it queues.
//
// Node has no flock(2), so the lock is an O_EXCL file whose owner is checked for life: a lock
// left by a process that no longer exists (kill -9, power cut) is taken over. A pid can be
// reused after a reboot or a long time, so the lock also records the boot id and the owner's
// start time (/proc/<pid>/stat field 22): a live pid that started at another time, or a lock
// from another boot, is stale too. Taking over renames the stale file away first, so of two
// daemons racing for a stale lock exactly one wins.
import {
  closeSync,
  constants,
  accessSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { AltnetError } from '../util/errors.js';
import type { Logger } from '../util/log.js';

export const LOCK_FILE = 'altnet.lock';

/** What the lock says about the daemon that owns a datadir. */
export interface DaemonInfo {
  pid: number;
  network: string;
  mode: string;
  /** host:port the node connects to (filled in once listening). */
  listen: string;
  startedAt: string;
  version: string;
  bootId?: string;
  procStart?: string;
}

function whoAmI(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid ${process.getuid?.() ?? '?'}`;
  }
}

/**
 * mkdir -p the datadir and check it is a writable directory; otherwise an AltnetError that
 * names the path, the problem and the fix.
 */
export function prepareDatadir(dir: string): void {
  try {
    const st = statSync(dir);
    if (!st.isDirectory()) {
      throw new AltnetError(
        'datadir-not-a-directory',
        `datadir ${dir} is a file, not a directory; move it away or set datadir= to a directory`,
      );
    }
  } catch (err) {
    if (err instanceof AltnetError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') {
      throw new AltnetError(
        'datadir-not-a-directory',
        `datadir ${dir} cannot be created: a part of that path is a file, not a directory; set datadir= to a directory`,
      );
    }
    if (code !== 'ENOENT') throw datadirError(dir, err as NodeJS.ErrnoException);
    try {
      mkdirSync(dir, { recursive: true, mode: 0o750 });
    } catch (e) {
      throw datadirError(dir, e as NodeJS.ErrnoException);
    }
  }
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw datadirError(dir, err as NodeJS.ErrnoException);
  }
}

function datadirError(dir: string, err: NodeJS.ErrnoException): AltnetError {
  switch (err.code) {
    case 'EACCES':
    case 'EPERM':
      return new AltnetError(
        'datadir-not-writable',
        `datadir ${dir} is not writable by user ${whoAmI()}; give that user the directory (chown -R ${whoAmI()} ${dir}), or set datadir= to a directory it owns`,
      );
    case 'EROFS':
      return new AltnetError('datadir-not-writable', `datadir ${dir} is on a read-only file system; set datadir= to a writable directory`);
    case 'ENOTDIR':
    case 'EEXIST':
      return new AltnetError(
        'datadir-not-a-directory',
        `datadir ${dir} cannot be created: a part of that path is a file, not a directory; set datadir= to a directory`,
      );
    case 'ENOSPC':
      return new AltnetError('datadir-full', `datadir ${dir}: no space left on the device; free some space`);
    default:
      return new AltnetError('datadir-unusable', `datadir ${dir} cannot be used: ${err.message}`);
  }
}

function readBootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), or undefined. */
function procStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may contain spaces: split after it.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19];
  } catch {
    return undefined;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True when the process that wrote `info` is still running (the same process, not a reuse of its pid). */
export function ownerAlive(info: DaemonInfo): boolean {
  if (!Number.isInteger(info.pid) || info.pid <= 0) return false;
  if (!pidAlive(info.pid)) return false;
  const boot = readBootId();
  if (info.bootId && boot && info.bootId !== boot) return false;
  const start = procStart(info.pid);
  if (info.procStart && start && info.procStart !== start) return false;
  return true;
}

function parseInfo(text: string): DaemonInfo | undefined {
  try {
    const v = JSON.parse(text) as Partial<DaemonInfo>;
    if (typeof v.pid !== 'number' || typeof v.network !== 'string') return undefined;
    return { mode: 'gateway', listen: '', startedAt: '', version: '', ...v } as DaemonInfo;
  } catch {
    return undefined;
  }
}

/** The daemon that holds the datadir's lock, if any, and whether it is still running. */
export function readDaemonInfo(datadir: string): { info: DaemonInfo; alive: boolean } | undefined {
  let text: string;
  try {
    text = readFileSync(join(datadir, LOCK_FILE), 'utf8');
  } catch {
    return undefined;
  }
  const info = parseInfo(text);
  return info && { info, alive: ownerAlive(info) };
}

function writeLockFile(path: string, flags: string, info: DaemonInfo): void {
  const fd = openSync(path, flags, 0o640);
  try {
    const bytes = Buffer.from(JSON.stringify(info, null, 2) + '\n');
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export class DatadirLock {
  private released = false;

  private constructor(
    readonly path: string,
    private info: DaemonInfo,
  ) {}

  /**
   * Takes the datadir for this process. Refuses (`datadir-locked`, naming the owner's pid) when
   * a running daemon holds it; takes over a stale lock and logs that it did.
   */
  static acquire(datadir: string, info: Omit<DaemonInfo, 'pid' | 'bootId' | 'procStart'>, log?: Logger): DatadirLock {
    const path = join(datadir, LOCK_FILE);
    const full: DaemonInfo = { pid: process.pid, ...info, bootId: readBootId(), procStart: procStart(process.pid) };
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        writeLockFile(path, 'wx', full);
        return new DatadirLock(path, full);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw datadirError(datadir, err as NodeJS.ErrnoException);
      }
      let text = '';
      try {
        text = readFileSync(path, 'utf8');
      } catch {
        continue; // gone meanwhile: try again
      }
      const owner = parseInfo(text);
      if (owner && ownerAlive(owner)) {
        const what = owner.pid === process.pid ? 'another gateway in this same process' : `another altnet (pid ${owner.pid})`;
        throw new AltnetError(
          'datadir-locked',
          `datadir ${datadir} is in use by ${what}, running ${owner.network}${owner.listen ? ` on ${owner.listen}` : ''} since ${owner.startedAt || '?'}; ` +
            `stop it first (kill ${owner.pid}, or systemctl stop altnet), or give this daemon its own datadir=`,
        );
      }
      if (!owner) {
        // Unparseable: a daemon may be writing it this instant; only a lock older than a few seconds is stale.
        try {
          if (Date.now() - statSync(path).mtimeMs < 5000) {
            throw new AltnetError(
              'datadir-locked',
              `datadir ${datadir} is being taken by another altnet starting right now (${path}); try again in a few seconds`,
            );
          }
        } catch (err) {
          if (err instanceof AltnetError) throw err;
          continue;
        }
      }
      const aside = `${path}.stale-${process.pid}`;
      try {
        renameSync(path, aside);
      } catch {
        continue; // another starter moved it first
      }
      try {
        unlinkSync(aside);
      } catch {
        // best effort
      }
      log?.warn('taking over a stale datadir lock (its daemon is gone)', {
        datadir,
        pid: owner?.pid,
        network: owner?.network,
        since: owner?.startedAt,
      });
    }
    throw new AltnetError('datadir-locked', `could not take the lock ${path}; another altnet keeps taking it`);
  }

  /** Rewrites the lock with what became known after start (the listen port). */
  update(patch: Partial<DaemonInfo>): void {
    if (this.released) return;
    this.info = { ...this.info, ...patch, pid: this.info.pid };
    const tmp = `${this.path}.tmp-${process.pid}`;
    writeLockFile(tmp, 'w', this.info);
    renameSync(tmp, this.path);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    try {
      // Only remove it if it is still ours.
      const owner = parseInfo(readFileSync(this.path, 'utf8'));
      if (owner?.pid === this.info.pid && owner.procStart === this.info.procStart && owner.startedAt === this.info.startedAt)
        unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}
