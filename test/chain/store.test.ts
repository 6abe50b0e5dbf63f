import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { crc32 } from 'node:zlib';
import ts from 'typescript';
import { HeaderChain } from '../../src/chain/chain.js';
import { NETWORKS } from '../../src/chain/networks.js';
import { FILE_HEADER_SIZE, RECORD_SIZE } from '../../src/chain/store.js';
import { writeU32LE } from '../../src/util/bytes.js';
import { Counters } from '../../src/util/counters.js';
import { ConfigError } from '../../src/util/errors.js';
import { memoryLogger } from '../../src/util/log.js';
import { REPO_ROOT, SHARED_DATA } from '../harness/data.js';
import { mine, mineRun, readHeaders } from './helpers.js';
import { readU32LE } from '../../src/util/bytes.js';

const recent = readHeaders(SHARED_DATA.recentHeaders);
const NOW = 1_800_000_000;

let dir: string;
const opened: HeaderChain[] = [];

async function openChain(path: string, network = NETWORKS.main) {
  const counters = new Counters();
  const log = memoryLogger();
  const chain = await HeaderChain.open(path, { network, log, counters, nowSeconds: () => NOW });
  opened.push(chain);
  return { chain, counters, log };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'altnet-chain-store-'));
});
afterEach(() => {
  for (const c of opened.splice(0)) c.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A persisted chain file with the first `n` recent headers, written in batches like a peer would send. */
async function writeChain(name: string, n: number): Promise<string> {
  const path = join(dir, name);
  const { chain } = await openChain(path);
  for (let i = 0; i < n; i += 500) expect(chain.addHeaders(recent.slice(i, Math.min(n, i + 500))).rejected).toBeUndefined();
  chain.close();
  return path;
}

describe('persisted header chain', () => {
  it('reopens to the same tip and chainwork; the file is 56 + 84 bytes per header', async () => {
    const path = await writeChain('full.dat', recent.length);
    expect(statSync(path).size).toBe(FILE_HEADER_SIZE + RECORD_SIZE * recent.length);
    const { chain } = await openChain(path);
    expect(chain.storeCut).toBeUndefined();
    expect(chain.tip().height).toBe(830592);
    expect(chain.tip().chainWork).toBe(SHARED_DATA.workAfterRecent);
    // And keeps appending after the reload.
    expect(chain.addHeaders(recent.slice(8000)).duplicates).toBe(65);
  });

  it('opens into an arena sized to the file plus two weeks of headers, not the next power of two', async () => {
    const path = await writeChain('sized.dat', recent.length);
    const { chain } = await openChain(path);
    // 8,065 records + the root + 2,016 headroom (issue 18: doubling made it 16,384 slots).
    expect(chain.memoryUsage()).toMatchObject({ headers: 8066, capacity: 8066 + 2016 });
    expect(chain.memoryUsage().bytes).toBeLessThan(10_082 * 140);
  });

  it('cuts a partial last record and keeps every record before it', async () => {
    const path = await writeChain('torn.dat', 300);
    truncateSync(path, FILE_HEADER_SIZE + RECORD_SIZE * 299 + 30);
    const { chain, counters, log } = await openChain(path);
    expect(chain.storeCut).toMatchObject({ reason: 'partial-record', keptRecords: 299, droppedBytes: 30 });
    expect(chain.tip().height).toBe(822527 + 299);
    expect(statSync(path).size).toBe(FILE_HEADER_SIZE + RECORD_SIZE * 299);
    expect(counters.get('store.cut.partial-record')).toBe(1);
    expect(log.lines.some((l) => l.includes('cut the tail'))).toBe(true);
    // The cut header comes back from a peer and is appended again.
    expect(chain.addHeaders(recent.slice(299, 300)).accepted).toBe(1);
  });

  it('cuts at a record whose checksum fails, dropping it and everything after it', async () => {
    const path = await writeChain('crc.dat', 300);
    const bytes = new Uint8Array(readFileSync(path));
    bytes[FILE_HEADER_SIZE + RECORD_SIZE * 120 + 40] ^= 0x10;
    writeFileSync(path, bytes);
    const { chain } = await openChain(path);
    expect(chain.storeCut).toMatchObject({ reason: 'bad-checksum', keptRecords: 120 });
    expect(chain.tip().height).toBe(822527 + 120);
    expect(statSync(path).size).toBe(FILE_HEADER_SIZE + RECORD_SIZE * 120);
  });

  it('re-validates records on load: a record with a good checksum but a bad header is cut', async () => {
    const path = await writeChain('invalid.dat', 300);
    const bytes = new Uint8Array(readFileSync(path));
    const o = FILE_HEADER_SIZE + RECORD_SIZE * 200;
    bytes[o + 76] ^= 1; // nonce
    writeU32LE(bytes, o + 80, crc32(bytes.subarray(o, o + 80)) >>> 0);
    writeFileSync(path, bytes);
    const { chain, counters } = await openChain(path);
    expect(chain.storeCut).toMatchObject({ reason: 'invalid-header', keptRecords: 200 });
    expect(chain.tip().height).toBe(822527 + 200);
    expect(counters.get('store.cut.invalid-header')).toBe(1);
  });

  it('replays side branches and reorgs: the reopened chain has the same tip and side headers', async () => {
    const path = join(dir, 'regtest.dat');
    const g = NETWORKS.regtest.genesisHeader;
    const t0 = readU32LE(g, 68);
    const { chain } = await openChain(path, NETWORKS.regtest);
    const a = mineRun(g, 6, t0 + 600, 600, 0x207fffff, 1);
    const b = mineRun(a[2], 5, t0 + 3000, 600, 0x207fffff, 2);
    chain.addHeaders(a);
    expect(chain.addHeaders(b).reorg).toEqual({ forkHeight: 3, disconnected: 3 });
    chain.addHeaders([mine(a[5], t0 + 9000, 0x207fffff, { salt: 3 })]);
    const before = { tip: chain.tip(), side: chain.sideHeaders };
    chain.close();
    const { chain: again } = await openChain(path, NETWORKS.regtest);
    expect(again.storeCut).toBeUndefined();
    expect(again.tip()).toEqual(before.tip);
    expect(again.sideHeaders).toBe(before.side);
    expect(again.getByHeight(4)!.header).toEqual(b[0]);
  });

  it('finishes a file whose creation was cut short (a prefix of its file header)', async () => {
    const full = await writeChain('created.dat', 0);
    const prefix = readFileSync(full).subarray(0, 20);
    const path = join(dir, 'half-created.dat');
    writeFileSync(path, prefix);
    const { chain } = await openChain(path);
    expect(chain.tip().height).toBe(822527);
    expect(statSync(path).size).toBe(FILE_HEADER_SIZE);
    expect(chain.addHeaders(recent.slice(0, 3)).accepted).toBe(3);
  });

  it('refuses a file that belongs to another network or root', async () => {
    const path = await writeChain('other.dat', 10);
    await expect(HeaderChain.open(path, { network: NETWORKS.regtest, log: memoryLogger(), counters: new Counters() })).rejects.toThrow(
      ConfigError,
    );
    writeFileSync(join(dir, 'garbage.dat'), new Uint8Array(200).fill(0x41));
    await expect(openChain(join(dir, 'garbage.dat'))).rejects.toThrow(ConfigError);
    writeFileSync(join(dir, 'short.dat'), 'hello');
    await expect(openChain(join(dir, 'short.dat'))).rejects.toThrow(ConfigError);
    expect(readFileSync(join(dir, 'short.dat'), 'utf8')).toBe('hello');
    await expect(openChain(dir)).rejects.toThrow(ConfigError);
    // The refused file is left as it was.
    expect(statSync(path).size).toBe(FILE_HEADER_SIZE + RECORD_SIZE * 10);
  });
});

describe('crash while appending (kill -9 of a writer process)', () => {
  let build: string;
  let child: ChildProcess | undefined;

  beforeAll(() => {
    // Node 20 cannot run .ts: transpile the modules the writer needs into a temp tree that sees
    // the repository's node_modules.
    build = mkdtempSync(join(tmpdir(), 'altnet-chain-writer-'));
    for (const sub of ['src/chain', 'src/util', 'src/codec']) {
      mkdirSync(join(build, sub), { recursive: true });
      for (const f of readdirSync(resolve(REPO_ROOT, sub))) {
        if (!f.endsWith('.ts')) continue;
        const out = ts.transpileModule(readFileSync(resolve(REPO_ROOT, sub, f), 'utf8'), {
          compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
        });
        writeFileSync(join(build, sub, f.replace(/\.ts$/, '.js')), out.outputText);
      }
    }
    writeFileSync(join(build, 'package.json'), '{"type":"module"}');
    symlinkSync(resolve(REPO_ROOT, 'node_modules'), join(build, 'node_modules'));
    writeFileSync(
      join(build, 'writer.mjs'),
      `import { readFileSync } from 'node:fs';
import { HeaderChain } from './src/chain/chain.js';
import { NETWORKS } from './src/chain/networks.js';
import { Counters } from './src/util/counters.js';
import { silentLogger } from './src/util/log.js';
const [path, data] = process.argv.slice(2);
const file = new Uint8Array(readFileSync(data));
const headers = [];
for (let o = 0; o < file.length; o += 80) headers.push(file.subarray(o, o + 80));
const chain = await HeaderChain.open(path, { network: NETWORKS.main, log: silentLogger(), counters: new Counters() });
let i = chain.tip().height - 822527;
for (; i < headers.length; i += 7) {
  chain.addHeaders(headers.slice(i, i + 7));
  process.stdout.write(chain.tip().height + '\\n');
}
process.stdout.write('done\\n');
setInterval(() => {}, 1000);
`,
    );
  });

  afterEach(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    child = undefined;
  });
  afterAll(() => rmSync(build, { recursive: true, force: true }));

  /** Starts the writer and kills it with SIGKILL once it reports a tip at or above `killAt`. */
  function runAndKill(path: string, killAt: number): Promise<number> {
    return new Promise((resolvePromise, reject) => {
      child = spawn(process.execPath, [join(build, 'writer.mjs'), path, SHARED_DATA.recentHeaders], { stdio: ['ignore', 'pipe', 'pipe'] });
      let reported = 0;
      let buf = '';
      let err = '';
      child.stderr!.on('data', (d) => (err += d));
      child.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        const lines = buf.split('\n');
        buf = lines.pop()!;
        for (const l of lines) {
          if (l === 'done' || Number(l) >= killAt) {
            if (l !== 'done') reported = Math.max(reported, Number(l));
            child!.kill('SIGKILL');
          } else reported = Math.max(reported, Number(l));
        }
      });
      child.on('exit', (code, signal) =>
        signal === 'SIGKILL' ? resolvePromise(reported) : reject(new Error(`writer exited ${code}: ${err}`)),
      );
    });
  }

  it('reopens with at least every header the writer reported stored, and nothing invalid', async () => {
    const path = join(dir, 'killed.dat');
    const first = await runAndKill(path, 822527 + 3000);
    expect(first).toBeGreaterThanOrEqual(822527 + 3000);
    // A second run resumes from the file and is killed again.
    const second = await runAndKill(path, 822527 + 6000);
    expect(second).toBeGreaterThanOrEqual(822527 + 6000);
    const { chain } = await openChain(path);
    expect(chain.tip().height).toBeGreaterThanOrEqual(second);
    // Whatever the kill left, the file's tail is now whole records.
    expect((statSync(path).size - FILE_HEADER_SIZE) % RECORD_SIZE).toBe(0);
    expect(chain.addHeaders(recent).rejected).toBeUndefined();
    expect(chain.tip().chainWork).toBe(SHARED_DATA.workAfterRecent);
  });

  it('recovers from a kill that left half a record (simulated by appending a partial record)', async () => {
    const path = join(dir, 'killed2.dat');
    await runAndKill(path, 822527 + 500);
    const size = statSync(path).size;
    writeFileSync(path, new Uint8Array(41).fill(0xee), { flag: 'a' });
    const { chain } = await openChain(path);
    expect(chain.storeCut).toMatchObject({ reason: 'partial-record', droppedBytes: 41 });
    expect(statSync(path).size).toBe(size);
  });
});
