// The installed service's layout and the datadir it owns: one daemon per datadir (a second one
// refuses naming the first one's pid; a lock left by kill -9 is taken over), plain `altnet status`
// and `altnet send-tx` finding /etc/altnet/altnet.conf and /var/lib/altnet (pointed into a temp
// dir here), send-tx refusing when no daemon would send what it queues, and clear messages for a
// datadir that is a file or not writable.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { NETWORKS } from '../../src/chain/networks.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { readDaemonInfo } from '../../src/gateway/datadir.js';
import { AltnetError } from '../../src/util/errors.js';
import { memoryIO } from '../../src/cli/io.js';
import { run as statusCmd } from '../../src/cli/cmd-status.js';
import { run as sendTxCmd, EXIT } from '../../src/cli/cmd-send-tx.js';
import { memoryLogger, silentLogger } from '../../src/util/log.js';
import { REPO_ROOT } from '../harness/data.js';
import { freePort, sleep } from '../harness/bitcoind.js';
import { makeTx } from '../e2e/send-tx-helpers.js';

const CLI = resolve(REPO_ROOT, 'dist/src/cli/main.cjs');
const root = mkdtempSync(join(tmpdir(), 'altnet-service-'));
chmodSync(root, 0o755);
afterAll(() => rmSync(root, { recursive: true, force: true }));

const gateways: Gateway[] = [];
const children: ChildProcess[] = [];
afterEach(async () => {
  await Promise.all(gateways.splice(0).map((g) => g.stop()));
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

async function gateway(datadir: string, extra: Partial<Parameters<typeof Gateway.start>[0]> = {}): Promise<Gateway> {
  const gw = await Gateway.start({
    network: NETWORKS.regtest,
    listen: { host: '127.0.0.1', port: 0 },
    links: [],
    log: silentLogger(),
    datadir,
    checkpoint: null,
    ...extra,
  });
  gateways.push(gw);
  return gw;
}

function errorOf(p: Promise<unknown>): Promise<AltnetError> {
  return p.then(
    () => {
      throw new Error('expected a refusal');
    },
    (e: unknown) => {
      expect(e).toBeInstanceOf(AltnetError);
      return e as AltnetError;
    },
  );
}

describe('datadir lock', () => {
  it('refuses a second gateway on the same datadir, and lets one start after the first stopped', async () => {
    const dir = join(root, 'lock-inproc');
    const first = await gateway(dir);
    const err = await errorOf(gateway(dir));
    expect(err.code).toBe('datadir-locked');
    expect(err.message).toContain(
      `datadir ${dir} is in use by another gateway in this same process, running regtest on 127.0.0.1:${first.nodePort}`,
    );
    await first.stop();
    gateways.splice(gateways.indexOf(first), 1);
    expect(existsSync(join(dir, 'altnet.lock'))).toBe(false);
    await gateway(dir);
  });

  it("a second `altnet run` refuses naming the first one's pid; after kill -9 the lock is taken over", async () => {
    const dir = join(root, 'lock-cli');
    const args = ['run', '--conf=none', '-regtest', `-datadir=${dir}`, `-listen=127.0.0.1:${await freePort()}`, '-loglevel=info'];
    const start = () => {
      const c = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      children.push(c);
      let err = '';
      c.stderr!.on('data', (b) => (err += b));
      return { c, err: () => err };
    };
    const a = start();
    for (let i = 0; i < 200 && !a.err().includes('ready'); i++) await sleep(50);
    expect(a.err()).toContain('ready');

    const second = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 30_000 });
    expect(second.status).toBe(1);
    expect(second.stderr).toContain(`(datadir-locked): datadir ${dir} is in use by another altnet (pid ${a.c.pid}), running regtest`);
    expect(second.stderr).toContain(`kill ${a.c.pid}`);

    const gone = new Promise((r) => a.c.once('exit', r));
    a.c.kill('SIGKILL');
    await gone;
    expect(readDaemonInfo(dir)).toMatchObject({ info: { pid: a.c.pid }, alive: false });
    const b = start();
    for (let i = 0; i < 200 && !b.err().includes('ready'); i++) await sleep(50);
    expect(b.err()).toContain('taking over a stale datadir lock');
    expect(b.err()).toContain(`pid=${a.c.pid}`);
    expect(readDaemonInfo(dir)).toMatchObject({ info: { pid: b.c.pid, network: 'regtest' }, alive: true });
  }, 60_000);
});

describe('the service layout, found by plain `altnet status` and `altnet send-tx`', () => {
  const etc = join(root, 'etc/altnet');
  const varlib = join(root, 'var/lib/altnet');
  const layout = { confPaths: [join(etc, 'altnet.conf')], serviceDatadir: varlib };
  const io = (env: Record<string, string> = {}) => Object.assign(memoryIO({ HOME: join(root, 'home'), ...env }), { layout });

  it('reads the service config and datadir, status and outbox readable by the service group', async () => {
    mkdirSync(etc, { recursive: true });
    writeFileSync(join(etc, 'altnet.conf'), `network=regtest\nlisten=127.0.0.1:${await freePort()}\n`);
    mkdirSync(varlib, { recursive: true, mode: 0o750 });
    const gw = await gateway(varlib);
    gw.writeStatus();

    const st = io();
    expect(await statusCmd([], st), st.stderr.join('\n')).toBe(0);
    expect(st.stdout[0]).toMatch(/^altnet \S+ on regtest, mode gateway/);
    // Not connected: the hint names the address the daemon really listens on.
    expect(st.stdout.join('\n')).toContain(`not connected (is addnode=127.0.0.1:${gw.nodePort} in bitcoin.conf?)`);

    const tx = makeTx(101);
    const q = io();
    expect(await sendTxCmd([tx.toHex()], q), q.stderr.join('\n')).toBe(EXIT.ok);
    expect(q.stdout[0]).toBe(`queued ${tx.getId()} (${tx.virtualSize()} vB, 1 in, 1 out)`);
    expect(readdirSync(join(varlib, 'outbox/regtest'))).toContain(`${tx.getId()}.json`);

    // Group: status and lock readable, outbox writable and setgid (members of the group can queue).
    expect(statSync(join(varlib, 'status.json')).mode & 0o777).toBe(0o640);
    expect(statSync(join(varlib, 'altnet.lock')).mode & 0o777).toBe(0o640);
    expect(statSync(join(varlib, 'outbox/regtest')).mode & 0o7777).toBe(0o2770);

    // ALTNET_DATADIR wins over the service datadir.
    const other = io({ ALTNET_DATADIR: join(root, 'elsewhere') });
    expect(await statusCmd([], other)).toBe(1);
    expect(other.stderr.join('\n')).toContain(`no status at ${join(root, 'elsewhere', 'status.json')}`);
  });

  it('send-tx refuses, storing nothing, when no daemon would send: none running, another network, receive-only', async () => {
    const tx = makeTx(102);
    const outbox = (d: string, net: string) => join(d, 'outbox', net);

    const none = join(root, 'nodaemon');
    const r1 = io();
    expect(await sendTxCmd([tx.toHex(), '--conf=none', '-regtest', `-datadir=${none}`], r1)).toBe(EXIT.noSender);
    expect(r1.stderr.join('\n')).toContain(`not queued: no altnet daemon is running on datadir ${none}`);
    expect(r1.stderr.join('\n')).toContain('--queue-only');
    expect(existsSync(outbox(none, 'regtest'))).toBe(false);
    // --queue-only stores it anyway, and says it waits for a daemon.
    const r1q = io();
    expect(await sendTxCmd([tx.toHex(), '--conf=none', '-regtest', `-datadir=${none}`, '--queue-only'], r1q)).toBe(EXIT.ok);
    expect(readdirSync(outbox(none, 'regtest'))).toEqual([`${tx.getId()}.json`]);

    // A forgotten -regtest: the daemon runs regtest, the command would queue for main.
    const reg = join(root, 'regtest-daemon');
    const gw = await gateway(reg);
    const r2 = io();
    expect(await sendTxCmd([tx.toHex(), '--conf=none', `-datadir=${reg}`], r2)).toBe(EXIT.noSender);
    expect(r2.stderr.join('\n')).toContain(
      `the daemon on datadir ${reg} (pid ${process.pid}) runs regtest, but this transaction would be queued for main`,
    );
    expect(r2.stderr.join('\n')).toContain('Add -regtest');
    expect(existsSync(outbox(reg, 'main'))).toBe(false);
    await gw.stop();
    gateways.splice(gateways.indexOf(gw), 1);

    // A receive-only gateway cannot transmit.
    await gateway(reg, { mode: 'receive-only' });
    const r3 = io();
    expect(await sendTxCmd([tx.toHex(), '--conf=none', '-regtest', `-datadir=${reg}`], r3)).toBe(EXIT.noSender);
    expect(r3.stderr.join('\n')).toMatch(
      /is receive-only: it never transmits, so it cannot send this transaction\. Send it from a gateway that transmits/,
    );
    expect(readdirSync(outbox(reg, 'regtest'))).toEqual([]);
  });
});

describe('datadir problems are refused with what to do', () => {
  const run = (datadir: string, asNobody = false) =>
    spawnSync(process.execPath, [CLI, 'run', '--conf=none', '-regtest', `-datadir=${datadir}`, '-listen=127.0.0.1:1'], {
      encoding: 'utf8',
      timeout: 30_000,
      cwd: root,
      ...(asNobody ? { uid: 65534, gid: 65534 } : {}),
    });

  it('a datadir that is a file', () => {
    const f = join(root, 'a-file');
    writeFileSync(f, 'x');
    const r = run(f);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      `(datadir-not-a-directory): datadir ${f} is a file, not a directory; move it away or set datadir= to a directory`,
    );
    const under = run(join(f, 'sub'));
    expect(under.stderr).toContain('a part of that path is a file');
  });

  it("a datadir the daemon's user cannot write", () => {
    const ro = join(root, 'readonly');
    mkdirSync(ro, { mode: 0o555 });
    chmodSync(ro, 0o555);
    // root writes anywhere: run as nobody then.
    const r = run(join(ro, 'data'), process.getuid?.() === 0);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(
      /\(datadir-not-writable\): datadir .*readonly\/data is not writable by user \S+; give that user the directory \(chown -R/,
    );
  });
});
