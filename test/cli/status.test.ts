// `altnet status` reads <datadir>/status.json as the daemon wrote it and prints it for a person:
// here, the pending transactions of the outbox, one of them relayed (acknowledged over radio).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../../src/cli/cmd-status.js';
import { memoryIO } from '../../src/cli/io.js';
import { pendingTx } from '../helpers/status.js';

const dir = mkdtempSync(join(tmpdir(), 'altnet-status-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A status.json of the shape GatewayStatus, with only what the text output reads. */
const STATUS = {
  version: '0.1.0',
  network: 'regtest',
  mode: 'receive-only',
  startedAt: '2026-11-30T11:00:00.000Z',
  chain: { height: 40, hash: 'cd'.repeat(32) },
  node: { connections: 0, peers: [] },
  links: [],
  anomalies: [],
  rescues: [],
  pendingTx: [pendingTx('aa'.repeat(32), true), pendingTx('bb'.repeat(32), false)],
};

async function status(json: object): Promise<string[]> {
  writeFileSync(join(dir, 'status.json'), JSON.stringify(json));
  const io = memoryIO();
  const code = await run(['--conf=none', '-regtest', `-datadir=${dir}`], io);
  expect(code, io.stderr.join('\n')).toBe(0);
  return io.stdout;
}

describe('altnet status', () => {
  it('says which pending transactions were relayed over radio, and which are still being sent', async () => {
    const out = await status(STATUS);
    const line = (txid: string) => out.find((l) => l.includes(txid))!;
    expect(line('aa'.repeat(32))).toBe(
      `  ${'aa'.repeat(32)} 141 vB since 2026-11-30T11:58:00.000Z: relayed via air at 2026-11-30T11:59:40.000Z (acknowledged over radio, no more radio resends); sent 3x, last 2026-11-30T11:59:30.000Z on air, next 2026-11-30T12:01:00.000Z`,
    );
    expect(line('bb'.repeat(32))).not.toContain('relayed');
    expect(line('bb'.repeat(32))).toContain(': sent 3x, last');
  });

  it('says when a failed rescue is tried next', async () => {
    const failed = {
      id: 4,
      state: 'failed',
      startedAt: '2026-11-30T11:50:00.000Z',
      nodeTipAtStart: { height: 3, hash: 'ab'.repeat(32) },
      forkHeight: 0,
      target: { height: 10, hash: 'cd'.repeat(32) },
      blockSources: {},
      blocksDelivered: 0,
      deliveredVia: { p2p: 0, rpc: 0 },
      reason: 'no block-capable link is up (p2p or esplora)',
      failuresInARow: 3,
      nextTryAt: '2026-11-30T12:02:00.000Z',
    };
    const out = await status({ ...STATUS, rescues: [failed, { ...failed, id: 3, failuresInARow: 2, nextTryAt: undefined }] });
    const rescue = (id: number) => out.find((l) => l.startsWith(`  #${id} `))!;
    expect(rescue(4)).toMatch(
      /; failed: no block-capable link is up \(p2p or esplora\); failed 3 time\(s\) in a row, next try at 2026-11-30T12:02:00\.000Z$/,
    );
    expect(rescue(3)).not.toContain('next try');
  });
});

describe('altnet status: sources', () => {
  it('prints the agreement on the best chain and, for a polling source, its next poll and why', async () => {
    const nextAt = new Date(Date.now() + 185_000).toISOString();
    const out = await status({
      ...STATUS,
      agreement: {
        agreeing: 2,
        sources: 3,
        best: { height: 40, chainWork: '0x52' },
        standings: [],
        summary: '2 of 3 independent source(s) agree on the best chain (height 40); dns:bitcoinheaders.net (dns) behind at 38',
      },
      links: [
        {
          name: 'mempool',
          type: 'esplora',
          state: 'degraded',
          lastFailure: '',
          restarts: 0,
          direction: 'duplex',
          carries: ['headers'],
          counters: {},
          poll: { nextAt, why: 'backoff', failures: 4 },
        },
      ],
    });
    expect(out).toContain(
      'agreement: 2 of 3 independent source(s) agree on the best chain (height 40); dns:bitcoinheaders.net (dns) behind at 38',
    );
    expect(out.find((l) => l.includes('mempool'))).toMatch(/next poll in 3 min \(backing off after 4 failure\(s\) in a row\)/);
  });
});
