// `altnet probe` against every LoRa emulator (written from the devices' own sources): firmware,
// the settings the device reports back, and the headers per hour the airtime budget allows.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { run } from '../../src/cli/cmd-probe.js';
import { memoryIO } from '../../src/cli/io.js';
import type { RadioDevice } from '../emulators/radios/device.js';
import { E22Emulator } from '../emulators/radios/e22.js';
import { MeshtasticEmulator } from '../emulators/radios/meshtastic.js';
import { Rak3172Emulator } from '../emulators/radios/rak3172.js';
import { Rn2483Emulator } from '../emulators/radios/rn2483.js';
import { RNodeEmulator } from '../emulators/radios/rnode.js';
import { openPtyPair } from '../emulators/pty.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined);
});

async function plug(dev: RadioDevice, baud: number): Promise<string> {
  const pty = await openPtyPair();
  cleanup.push(() => pty.close());
  await dev.start(pty.far, baud);
  cleanup.push(() => dev.stop());
  return pty.device;
}

const CASES: { board: string; make(): RadioDevice; baud: number; expect: RegExp[] }[] = [
  {
    board: 'rnode',
    make: () => new RNodeEmulator(),
    baud: 115200,
    expect: [/^firmware\s+1\.86$/m, /^\s+frequencyHz\s+868099975$/m, /^\s+platform\s+ESP32$/m, /preambleSymbols\s+18/],
  },
  {
    board: 'rak3172',
    make: () => new Rak3172Emulator(),
    baud: 115200,
    expect: [/^firmware\s+RUI_4\.0\.6_RAK3172-E$/m, /^\s+p2p\s+868100000:12:125:0:18:14$/m, /^\s+syncWord\s+1424$/m],
  },
  {
    board: 'rn2483',
    make: () => new Rn2483Emulator(),
    baud: 57600,
    expect: [/^firmware\s+RN2483 1\.0\.5/m, /^\s+freq\s+868100000$/m, /^\s+sync\s+12$/m, /^\s+prlen\s+18$/m],
  },
  {
    board: 'meshtastic',
    make: () => new MeshtasticEmulator(0x11223344),
    baud: 115200,
    expect: [/^firmware\s+2\.5\.20/m, /^\s+region\s+EU_868$/m, /^\s+preset\s+LONG_FAST$/m, /^\s+node\s+!11223344$/m],
  },
  {
    board: 'ebyte-e22',
    make: () => new E22Emulator(),
    baud: 9600,
    expect: [/^firmware\s+not reported$/m, /cannot be queried/, /configuration mode/],
  },
];

describe('altnet probe', () => {
  it.each(CASES)('$board: firmware, read-back settings and the airtime budget', async ({ board, make, baud, expect: want }) => {
    const device = await plug(make(), baud);
    const io = memoryIO();
    const code = await run([`--board=${board}`, `--device=${device}`, '--region=EU868'], io);
    const out = io.stdout.join('\n');
    expect(io.stderr.join('\n')).toBe('');
    expect(code).toBe(0);
    for (const re of want) expect(out).toMatch(re);
    const hph = Number(/headers\/hour\s+about (\d+)/.exec(out)?.[1]);
    expect(hph).toBeGreaterThan(0);
  });

  it('probes a link of altnet.conf, as JSON, with the numbers the limiter uses', async () => {
    const device = await plug(new RNodeEmulator({ chip: 'sx1262' }), 115200);
    const dir = mkdtempSync(join(tmpdir(), 'altnet-probe-'));
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    const conf = join(dir, 'altnet.conf');
    writeFileSync(
      conf,
      `link.lora0.type=lora\nlink.lora0.board=rnode\nlink.lora0.device=${device}\nlink.lora0.region=EU868\nlink.lora0.sf=7\nlink.lora0.frequency=869.525\n`,
    );
    const io = memoryIO();
    expect(await run(['lora0', `--conf=${conf}`, '--json'], io)).toBe(0);
    const r = JSON.parse(io.stdout.join('\n'));
    expect(r.device.readBack.frequencyHz).toBe(869_525_000); // SX1262: the firmware echoes what was set
    expect(r.configured.preambleSymbols).toBe(24);
    // 10% of an hour in sub-band g3; a 221-byte frame at SF7 with RNode's header and preamble.
    expect(r.budget.perHourMs).toBe(360_000);
    expect(r.budget.mtu).toBe(221);
    expect(r.budget.headersPerHour).toBe(Math.floor((360_000 / r.budget.batchMs) * 100));
  });

  it('says why when the radio does not answer, and refuses a link that is not a radio', async () => {
    const silent = await openPtyPair();
    cleanup.push(() => silent.close());
    const io = memoryIO();
    expect(await run(['--board=rnode', `--device=${silent.device}`, '--region=EU868', '--wait=500'], io)).toBe(1);
    expect(io.stderr.join('\n')).toMatch(/did not come up within 500 ms.*\[probe-no-answer\]/s);
    const io2 = memoryIO();
    expect(await run([], io2)).toBe(2);
    expect(io2.stderr.join('\n')).toMatch(/give --board= and --device=/);
  });
});
