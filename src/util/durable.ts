// Files that survive a crash or power cut whole or not at all: write to a temp name, fsync, rename,
// fsync the directory. Used by the outbox; the header store fsyncs its directory the same way.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';

/** Temp files of writeFileDurably start with this; a reader of the directory skips them. */
export const DURABLE_TMP_PREFIX = '.tmp-';

/** fsync a directory so a rename or create in it survives a power cut. Throws what fsync throws. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** mkdir -p, with each directory it creates made durable in its parent. */
export function ensureDir(dir: string): void {
  if (existsSync(dir)) return;
  ensureDir(dirname(dir));
  try {
    mkdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  fsyncDir(dirname(dir));
}

/** Writes a file so it is either absent or whole under any crash: temp, fsync, rename, dir fsync. */
export function writeFileDurably(dir: string, name: string, data: string | Uint8Array): string {
  ensureDir(dir);
  const tmp = join(dir, `${DURABLE_TMP_PREFIX}${name}-${process.pid}-${randomBytes(4).toString('hex')}`);
  const fd = openSync(tmp, 'wx', 0o644);
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  const path = join(dir, name);
  renameSync(tmp, path);
  fsyncDir(dir);
  return path;
}

/** Moves a file durably: the target directory is created if need be, both directories fsync'd. */
export function moveDurably(from: string, toDir: string, toName: string): string {
  ensureDir(toDir);
  const to = join(toDir, toName);
  renameSync(from, to);
  fsyncDir(toDir);
  fsyncDir(dirname(from));
  return to;
}
