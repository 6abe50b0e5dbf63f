// `altnet send-tx` as a user runs it: the compiled CLI in a child process, real exit codes,
// the entry it leaves in the configured datadir's outbox.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transaction } from 'bitcoinjs-lib';
import { parseEntry } from '../../src/gateway/outbox.js';
import { makeTx, runCli } from './send-tx-helpers.js';

describe('altnet send-tx', () => {
  let root: string;
  let datadir: string;
  let outbox: string;
  let flags: string[];

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'altnet-sendtx-cli-'));
    datadir = join(root, 'data');
    outbox = join(datadir, 'outbox', 'regtest');
    // No daemon runs on this datadir: --queue-only stores anyway (the refusal is in test/cli/service.test.ts).
    flags = ['--conf=none', '-regtest', `-datadir=${datadir}`, '--queue-only'];
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('stores a good transaction in the outbox and says so; a second submit is a no-op', async () => {
    const tx = makeTx(1);
    const r = await runCli(['send-tx', tx.toHex(), ...flags]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`queued ${tx.getId()}`);
    expect(r.stderr).toMatch(/no daemon is running on .*; the transaction is sent when `altnet run` starts there/);
    const file = join(outbox, `${tx.getId()}.json`);
    const { entry } = parseEntry(readFileSync(file, 'utf8'), `${tx.getId()}.json`);
    expect(entry.hex).toBe(tx.toHex());
    expect(entry.source).toBe('cli');
    expect(readdirSync(outbox)).toEqual([`${tx.getId()}.json`]);

    const again = await runCli(['send-tx', tx.toHex(), ...flags]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/already pending/);
    expect(readFileSync(file, 'utf8')).toBe(JSON.stringify(entry, null, 1) + '\n');
  });

  it('reads --file as hex text, as raw binary, or from stdin', async () => {
    const a = makeTx(2);
    const b = makeTx(3);
    const c = makeTx(4);
    writeFileSync(join(root, 'a.hex'), a.toHex().replace(/(.{60})/g, '$1\n') + '\n');
    writeFileSync(join(root, 'b.bin'), b.toBuffer());
    expect((await runCli(['send-tx', '--file', join(root, 'a.hex'), ...flags])).code).toBe(0);
    expect((await runCli(['send-tx', `--file=b.bin`, ...flags], { cwd: root })).code).toBe(0);
    expect((await runCli(['send-tx', '--file=-', ...flags], { stdin: Buffer.from(c.toHex()) })).code).toBe(0);
    expect(readdirSync(outbox).sort()).toEqual([a, b, c].map((t) => `${t.getId()}.json`).sort());
  });

  it('rejects bad hex, a truncated transaction and one without inputs with exit 1 and a clear reason', async () => {
    const hex = makeTx(5).toHex();
    const bad = await runCli(['send-tx', 'nothex' + hex, ...flags]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/tx-not-hex.*not hex: character "n" at position 1/);

    const truncated = await runCli(['send-tx', hex.slice(0, hex.length - 40), ...flags]);
    expect(truncated.code).toBe(1);
    expect(truncated.stderr).toMatch(/tx-malformed.*(ends too early|truncated)/);

    const noIn = new Transaction();
    noIn.addOutput(Buffer.from('0014' + '22'.repeat(20), 'hex'), 5000n);
    const r = await runCli(['send-tx', noIn.toHex(), ...flags]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/tx-no-inputs.*no inputs/);

    expect(existsSync(outbox) ? readdirSync(outbox) : []).toEqual([]);
  });

  it('usage and config errors exit 2; an unwritable outbox exits 3', async () => {
    expect((await runCli(['send-tx', ...flags])).code).toBe(2);
    expect((await runCli(['send-tx', 'aa', 'bb', ...flags])).code).toBe(2);
    expect((await runCli(['send-tx', makeTx(6).toHex(), '--file=x', ...flags])).code).toBe(2);
    expect((await runCli(['send-tx', makeTx(6).toHex(), '--conf=none', '-nosuchoption=1'])).code).toBe(2);
    const help = await runCli(['send-tx', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Exit codes/);

    writeFileSync(join(root, 'afile'), 'not a directory');
    const r = await runCli(['send-tx', makeTx(7).toHex(), '--conf=none', '-regtest', `-datadir=${join(root, 'afile')}`, '--queue-only']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/cannot store the transaction/);
  });
});
