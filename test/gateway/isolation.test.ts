// Link isolation at the gateway level, with a real regtest Bitcoin Core connected to the gateway:
// a link driver that is killed, that speaks garbage on its IPC channel or that keeps sending
// headers with invalid proof of work is restarted or quarantined on its own, while the node's
// connection to altnet stays the same connection (no reconnect, no ban) and a healthy link keeps
// delivering headers that reach the node.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { NETWORKS } from '../../src/chain/networks.js';
import { checkProofOfWork, headerHash } from '../../src/chain/header.js';
import { Gateway } from '../../src/gateway/gateway.js';
import type { SimAir } from '../../src/links/sim/air.js';
import { hashToHex, readU32LE, writeU32LE } from '../../src/util/bytes.js';
import { memoryLogger } from '../../src/util/log.js';
import { BitcoindProcess } from '../harness/bitcoind.js';
import { headersFromNode } from '../harness/gateway.js';
import { REPO_ROOT } from '../harness/data.js';
import { until } from '../helpers/wait.js';
import { startTestAir } from '../harness/air.js';

const DRIVER = resolve(REPO_ROOT, 'test/fixtures/drivers/scripted.mjs');
const REGTEST = NETWORKS.regtest;

/** Writes a file whole or not at all: a driver reading it while it changes sees old or new. */
function writeAtomically(path: string, data: Uint8Array): void {
  writeFileSync(path + '.tmp', data);
  renameSync(path + '.tmp', path);
}

const concat = (hs: Uint8Array[]) => Buffer.concat(hs.map((h) => Buffer.from(h)));

/**
 * Three chained headers off genesis (prev = genesis, then each other's hash) whose nonces make
 * them fail regtest's 0x207fffff target. The scripted driver flips bit 0 of byte 76 (the nonce's
 * low byte) before sending, and answers requests with the file's headers unflipped, so both
 * variants must fail: every header this driver can ever send has invalid proof of work.
 */
function invalidPowChain(template: Uint8Array[]): { file: Uint8Array[]; sent: Uint8Array[] } {
  const file: Uint8Array[] = [];
  const sent: Uint8Array[] = [];
  let prev = headerHash(REGTEST.genesisHeader);
  for (const t of template.slice(0, 3)) {
    const h = Uint8Array.from(t);
    h.set(prev, 4);
    const flipped = () => {
      const c = Uint8Array.from(h);
      c[76] ^= 1;
      return c;
    };
    let nonce = readU32LE(h, 76) & ~1;
    for (;;) {
      writeU32LE(h, 76, nonce >>> 0);
      if (!checkProofOfWork(h, REGTEST.powLimit) && !checkProofOfWork(flipped(), REGTEST.powLimit)) break;
      nonce += 2;
    }
    file.push(Uint8Array.from(h));
    sent.push(flipped());
    prev = headerHash(sent[sent.length - 1]);
  }
  return { file, sent };
}

interface AltnetPeer {
  id: number;
  conntime: number;
  subver: string;
}

describe('gateway link isolation, with a real regtest node connected', () => {
  const log = memoryLogger();
  let dir: string;
  let air: SimAir;
  let gw: Gateway;
  let nodeA: BitcoindProcess;
  let nodeB: BitcoindProcess;
  let bHeaders: Uint8Array[]; // B's headers at heights 1..33 (index = height - 1)
  let badSent: Uint8Array[];
  let goodFile: string;
  let altnetPeer: AltnetPeer;
  const firstPids: Record<string, number> = {};

  async function onlyPeer(): Promise<AltnetPeer> {
    const peers = await nodeA.rpc<AltnetPeer[]>('getpeerinfo');
    expect(peers).toHaveLength(1);
    return { id: peers[0].id, conntime: peers[0].conntime, subver: peers[0].subver };
  }

  async function nodeHasHeader(hash: Uint8Array): Promise<boolean> {
    return nodeA.rpc('getblockheader', hashToHex(hash)).then(
      () => true,
      (err: Error) => {
        if (/not found/i.test(err.message)) return false;
        throw err;
      },
    );
  }

  /** The same connection as at the start, and never banned or discouraged. */
  async function expectSameUnpunishedConnection(): Promise<void> {
    expect(await onlyPeer()).toEqual(altnetPeer);
    expect(await nodeA.rpc<unknown[]>('listbanned')).toEqual([]);
    expect(nodeA.grepLog(/Misbehaving|discourag|disconnecting peer/i)).toEqual([]);
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'altnet-isolation-'));
    nodeB = new BitcoindProcess({ name: 'B' });
    await nodeB.start();
    await nodeB.mine(33);
    bHeaders = await headersFromNode(nodeB, 1);
    expect(bHeaders).toHaveLength(33);

    goodFile = join(dir, 'good.bin');
    writeAtomically(goodFile, concat(bHeaders.slice(0, 20)));
    const bad = invalidPowChain(bHeaders);
    badSent = bad.sent;
    const badFile = join(dir, 'badpow.bin');
    writeAtomically(badFile, concat(bad.file));

    const testAir = await startTestAir();
    air = testAir.air;
    const airPort = testAir.port;

    gw = await Gateway.start({
      network: REGTEST,
      listen: { host: '127.0.0.1', port: 0 },
      checkpoint: null,
      log,
      linkRestartMaxMs: 2000,
      links: [
        { name: 'good', type: 'module', options: { path: DRIVER, behavior: 'headers', count: '20', file: goodFile } },
        // `file` too: the driver answers header requests from it (without one it would crash on
        // the first request, which is a different failure than the one tested here).
        { name: 'garbage', type: 'module', options: { path: DRIVER, behavior: 'garbage', file: goodFile } },
        { name: 'bad', type: 'module', options: { path: DRIVER, behavior: 'badpow', file: badFile } },
        { name: 'radio', type: 'sim', options: { type: 'sim', air: `127.0.0.1:${airPort}`, sf: '7', dutycycle: '1' } },
      ],
    });
    nodeA = new BitcoindProcess({ name: 'A', args: [`-addnode=127.0.0.1:${gw.nodePort}`] });
    await nodeA.start();
    await until('node A connected to altnet', () => gw.status().node.connections === 1, 60_000);
    await until("node A has the healthy link's 20 headers", () => nodeHasHeader(headerHash(bHeaders[19])));
    for (const name of ['good', 'bad', 'radio']) {
      await until(`${name} running`, () => gw.link(name)?.pid !== undefined);
      firstPids[name] = gw.link(name)!.pid!;
    }
    altnetPeer = await onlyPeer();
    expect(altnetPeer.subver).toBe('/altnet:0.1.0/');
  }, 180_000);

  afterAll(async () => {
    await nodeA?.stop();
    await nodeB?.stop();
    await gw?.stop();
    await air?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('quarantines the bad-PoW driver; none of its headers reach the gateway chain or the node', async () => {
    for (const h of badSent) expect(checkProofOfWork(h, REGTEST.powLimit)).toBe(false);
    const headersBefore = (await nodeA.rpc<{ headers: number }>('getblockchaininfo')).headers;
    expect(headersBefore).toBe(20);

    await until('bad link quarantined', () => gw.link('bad')?.state === 'quarantined');
    await until('deliveries ignored while quarantined', () => gw.counters.get('link.bad.ignored_quarantined') > 0);
    const status = gw.status().links.find((l) => l.name === 'bad')!;
    expect(status.state).toBe('quarantined');
    expect(status.restarts).toBe(0);
    expect(gw.counters.get('link.bad.invalid.bad-pow')).toBeGreaterThan(5);
    expect(gw.counters.get('link.bad.headers_accepted')).toBe(0);
    expect(gw.counters.get('link.bad.quarantines')).toBe(1);
    // Quarantine ignores the driver; it does not kill it.
    expect(gw.link('bad')!.pid).toBe(firstPids.bad);

    for (const h of badSent) {
      expect(gw.chain.getByHash(headerHash(h))).toBeUndefined();
      expect(await nodeHasHeader(headerHash(h))).toBe(false);
    }
    expect((await nodeA.rpc<{ headers: number }>('getblockchaininfo')).headers).toBe(headersBefore);
    await expectSameUnpunishedConnection();
  });

  it('restarts and counts the garbage-speaking driver; the other links are unaffected', async () => {
    // The error comes ~50 ms after each (re)start: wait for both counts, in either order.
    await until(
      'garbage driver restarted twice',
      () => (gw.link('garbage')?.restarts ?? 0) >= 2 && gw.counters.get('link.garbage.ipc_errors') >= 2,
    );
    expect(gw.counters.get('link.garbage.ipc_errors')).toBeGreaterThanOrEqual(2);
    expect(gw.counters.get('link.garbage.ipc_errors.ipc-bad-cbor')).toBeGreaterThanOrEqual(2);
    const garbage = gw.status().links.find((l) => l.name === 'garbage')!;
    expect(garbage.restarts).toBeGreaterThanOrEqual(2);
    expect(garbage.counters.restarts).toBeGreaterThanOrEqual(2);
    expect(garbage.lastFailure).toContain('malformed message');
    // Every exit was the supervisor killing it for garbage, none a crash of its own (the last
    // kill's exit may still be on its way, hence at most).
    expect(garbage.counters.exits).toBeLessThanOrEqual(gw.counters.get('link.garbage.ipc_errors'));
    expect(log.lines.some((l) => l.includes('malformed message') && l.includes('garbage'))).toBe(true);

    for (const name of ['good', 'bad', 'radio']) {
      expect(gw.link(name)!.pid, name).toBe(firstPids[name]);
      expect(gw.link(name)!.restarts, name).toBe(0);
      expect(gw.counters.get(`link.${name}.ipc_errors`), name).toBe(0);
    }
    expect(gw.link('good')!.state).toBe('up');
    expect(gw.link('radio')!.state).toBe('up');
    expect(gw.counters.get('link.good.invalid_headers')).toBe(0);
    await expectSameUnpunishedConnection();
  });

  it('restarts a SIGKILLed healthy driver with a new process, whose deliveries reach the node over the same connection', async () => {
    // The restarted driver reads its file again: heights 11..30 this time, 10 new headers.
    writeAtomically(goodFile, concat(bHeaders.slice(10, 30)));
    const tip30 = headerHash(bHeaders[29]);
    expect(await nodeHasHeader(tip30)).toBe(false);
    const sup = gw.link('good')!;
    const oldPid = sup.pid!;
    // Other drivers read the same file and may have delivered a few of the first headers, so
    // count what this link adds after its restart.
    const acceptedBefore = gw.counters.get('link.good.headers_accepted');
    process.kill(oldPid, 'SIGKILL');

    await until(
      'good driver back up in a new process',
      () => gw.link('good')?.state === 'up' && gw.link('good')!.pid !== oldPid && gw.link('good')!.pid !== undefined,
    );
    expect(gw.link('good')).toBe(sup);
    expect(sup.restarts).toBe(1);
    expect(gw.counters.get('link.good.restarts')).toBe(1);
    expect(gw.counters.get('link.good.exits')).toBe(1);
    const status = gw.status().links.find((l) => l.name === 'good')!;
    expect(status.restarts).toBe(1);
    expect(status.lastFailure).toBe('killed by SIGKILL');

    await until('node A has height 30 from the restarted driver', () => nodeHasHeader(tip30));
    expect((await nodeA.rpc<{ headers: number }>('getblockchaininfo')).headers).toBe(30);
    expect(hashToHex(gw.chain.tip().hash)).toBe(hashToHex(tip30));
    expect(gw.counters.get('link.good.headers_accepted') - acceptedBefore).toBe(10);

    // Still quarantined, still kept out; the radio link untouched.
    expect(gw.link('bad')!.state).toBe('quarantined');
    for (const h of badSent) expect(await nodeHasHeader(headerHash(h))).toBe(false);
    expect(gw.link('radio')!.pid).toBe(firstPids.radio);
    expect(gw.link('radio')!.restarts).toBe(0);
    await expectSameUnpunishedConnection();
  });
});
