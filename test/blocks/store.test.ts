// The block store: bounded (oldest first), kept across restarts, and never serving a torn or
// damaged block, including after the writing process is killed with SIGKILL mid-write.
import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { BlockStore } from '../../src/blocks/store.js';
import { Counters } from '../../src/util/counters.js';
import { memoryLogger } from '../../src/util/log.js';
import { REPO_ROOT } from '../harness/data.js';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'altnet-blocks-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const hashOf = (i: number) => new Uint8Array(createHash('sha256').update(`block ${i}`).digest());
function blockOf(i: number, size: number): Uint8Array {
  const b = new Uint8Array(size).fill((i * 7) & 0xff);
  new DataView(b.buffer).setUint32(0, i, true);
  return b;
}

function open(dir: string | undefined, maxBytes: number, counters = new Counters()) {
  return { store: BlockStore.open({ dir, maxBytes, log: memoryLogger(), counters }), counters };
}

describe('BlockStore', () => {
  it('keeps blocks across a restart and prunes the oldest first when over its bound', () => {
    const dir = tmp();
    const { store } = open(dir, 350_000);
    for (let i = 0; i < 3; i++) expect(store.put(hashOf(i), 100 + i, blockOf(i, 100_000))).toBe(true);
    expect(store.count).toBe(3);
    store.put(hashOf(3), 103, blockOf(3, 100_000)); // over 350 kB with its framing: block 0 goes
    expect(store.has(hashOf(0))).toBe(false);
    expect(store.count).toBe(3);
    const again = open(dir, 350_000).store;
    expect(again.count).toBe(3);
    for (let i = 1; i < 4; i++) {
      expect(Buffer.from(again.get(hashOf(i))!).equals(Buffer.from(blockOf(i, 100_000)))).toBe(true);
      expect(again.heightOf(hashOf(i))).toBe(100 + i);
    }
    // Oldest first survives the restart too: the next block pushes out block 1.
    again.put(hashOf(4), 104, blockOf(4, 100_000));
    expect(again.has(hashOf(1))).toBe(false);
    expect(again.has(hashOf(4))).toBe(true);
    // A smaller bound at reopen prunes at once.
    expect(open(dir, 150_000).store.count).toBe(1);
  });

  it('drops an interrupted write, a truncated file and a damaged one, never serving them', () => {
    const dir = tmp();
    const { store } = open(dir, 10_000_000);
    for (let i = 0; i < 3; i++) store.put(hashOf(i), i, blockOf(i, 50_000));
    const files = readdirSync(dir).sort();
    writeFileSync(join(dir, files[2] + '.tmp'), 'half a block');
    const truncated = join(dir, files[0]);
    writeFileSync(truncated, readFileSync(truncated).subarray(0, 20_000));
    const damaged = join(dir, files[1]);
    const bytes = readFileSync(damaged);
    bytes[30_000] ^= 1;
    writeFileSync(damaged, bytes);

    const { store: again, counters } = open(dir, 10_000_000);
    expect(counters.get('blocks.store.torn_removed')).toBe(2); // the .tmp and the truncated file
    expect(again.count).toBe(2);
    expect(again.get(hashOf(1))).toBeUndefined(); // same length, wrong content: caught on read
    expect(counters.get('blocks.store.damaged')).toBe(1);
    expect(again.count).toBe(1);
    expect(Buffer.from(again.get(hashOf(2))!).equals(Buffer.from(blockOf(2, 50_000)))).toBe(true);
    expect(readdirSync(dir)).toHaveLength(1);
  });

  it('keeps blocks in memory with the same bound when there is no datadir', () => {
    const { store } = open(undefined, 250_000);
    for (let i = 0; i < 4; i++) store.put(hashOf(i), i, blockOf(i, 100_000));
    expect(store.count).toBe(2);
    expect(store.has(hashOf(3))).toBe(true);
    expect(store.bytes).toBeLessThanOrEqual(250_000);
  });

  it('after kill -9 in the middle of writing, every block it serves is whole', async () => {
    const dir = tmp();
    const storeJs = resolve(REPO_ROOT, 'dist/src/blocks/store.js');
    const script = `
      import { BlockStore } from ${JSON.stringify(storeJs)};
      import { createHash } from 'node:crypto';
      const quiet = { debug() {}, info() {}, warn() {}, error() {}, child() { return quiet; } };
      const counters = { inc() {}, get() { return 0; } };
      const store = BlockStore.open({ dir: ${JSON.stringify(dir)}, maxBytes: 50_000_000, log: quiet, counters });
      for (let i = 0; ; i++) {
        const b = new Uint8Array(400_000).fill((i * 7) & 0xff);
        new DataView(b.buffer).setUint32(0, i, true);
        store.put(new Uint8Array(createHash('sha256').update('block ' + i).digest()), i, b);
        process.stdout.write(i + '\\n');
      }`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let written = -1;
    await new Promise<void>((done) => {
      child.stdout.on('data', (b: Buffer) => {
        const last = b.toString().trim().split('\n').pop();
        if (last) written = Number(last);
        if (written >= 15) {
          child.kill('SIGKILL');
          done();
        }
      });
    });
    await new Promise((r) => child.once('exit', r));
    const { store } = open(dir, 50_000_000);
    expect(store.count).toBeGreaterThanOrEqual(written + 1);
    let whole = 0;
    for (let i = 0; i <= written + 5; i++) {
      const got = store.get(hashOf(i));
      if (!got) continue;
      expect(Buffer.from(got).equals(Buffer.from(blockOf(i, 400_000)))).toBe(true);
      whole++;
    }
    expect(whole).toBe(store.count);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
