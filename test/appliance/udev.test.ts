import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { matchDevices, renderUdevRules, runBoards, usbIdGroups, usbPortOf, run as runBoardsCommand } from '../../src/cli/cmd-boards.js';
import { memoryIO } from '../../src/cli/io.js';
import { loadBoardProfiles } from '../../src/links/boards.js';

const RULES_PATH = new URL('../../udev/70-altnet.rules', import.meta.url);
const profiles = loadBoardProfiles();

// The keys udev accepts in the rules we generate, and the operators each may use.
const MATCH_KEYS = /^(ACTION|SUBSYSTEM|SUBSYSTEMS|KERNEL|ATTRS\{[A-Za-z]+\}|ENV\{ID_SERIAL_SHORT\})$/;
const ASSIGN_KEYS = /^(SYMLINK|GROUP|MODE|ENV\{[A-Z_]+\}|GOTO|LABEL)$/;

function parseRuleLine(line: string): Array<{ key: string; op: string; value: string }> {
  const out: Array<{ key: string; op: string; value: string }> = [];
  const re = /\s*([A-Za-z_]+(?:\{[A-Za-z_]+\})?)\s*(==|!=|\+=|=)\s*"([^"]*)"\s*(,|$)/y;
  let pos = 0;
  while (pos < line.length) {
    re.lastIndex = pos;
    const m = re.exec(line);
    if (!m) throw new Error(`unparseable rule at column ${pos}: ${line}`);
    out.push({ key: m[1], op: m[2], value: m[3] });
    pos = re.lastIndex;
  }
  return out;
}

describe('udev rules', () => {
  it('the committed file is exactly what `altnet boards --udev-rules` generates from boards/*.json', () => {
    expect(readFileSync(RULES_PATH, 'utf8')).toBe(renderUdevRules(profiles));
  });

  it('names every USB id of every profile under /dev/altnet and keeps ModemManager away', () => {
    const text = renderUdevRules(profiles);
    const rules = text
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith('#'))
      .map(parseRuleLine);
    for (const p of profiles) {
      for (const u of p.usb) {
        const forId = rules.filter(
          (r) =>
            r.some((k) => k.key === 'ATTRS{idVendor}' && k.op === '==' && k.value === u.vendorId) &&
            r.some((k) => k.key === 'ATTRS{idProduct}' && k.op === '==' && k.value === u.productId),
        );
        expect(forId.length, `${p.id} ${u.vendorId}:${u.productId}`).toBe(2);
        // Names that survive plug order: the USB port always, the serial number when there is one;
        // never the kernel's number (%n), which depends on what was plugged in first.
        const [byPort, bySerial] = forId;
        const link = byPort.find((k) => k.key === 'SYMLINK')!;
        expect(link.op).toBe('+=');
        expect(link.value).toMatch(/^altnet\/[a-z0-9-]+-usb\$attr\{busnum\}-\$attr\{devpath\}$/);
        expect(bySerial.find((k) => k.key === 'ENV{ID_SERIAL_SHORT}')).toEqual({ key: 'ENV{ID_SERIAL_SHORT}', op: '==', value: '?*' });
        expect(bySerial.find((k) => k.key === 'SYMLINK')?.value).toMatch(/^altnet\/[a-z0-9-]+-\$env\{ID_SERIAL_SHORT\}$/);
        expect(byPort.find((k) => k.key === 'ENV{ID_MM_DEVICE_IGNORE}')?.value).toBe('1');
        expect(byPort.find((k) => k.key === 'ENV{ALTNET_BOARDS}')?.value.split(' ')).toContain(p.id);
      }
    }
    for (const r of rules) {
      for (const k of r) {
        if (k.op === '==' || k.op === '!=') expect(k.key).toMatch(MATCH_KEYS);
        else expect(k.key).toMatch(ASSIGN_KEYS);
      }
    }
    // Every GOTO has its LABEL.
    const gotos = rules
      .flat()
      .filter((k) => k.key === 'GOTO')
      .map((k) => k.value);
    const labels = rules
      .flat()
      .filter((k) => k.key === 'LABEL')
      .map((k) => k.value);
    for (const g of gotos) expect(labels).toContain(g);
  });

  it('gives an id a profile of its own the profile name, and a shared bridge chip the chip name', () => {
    const groups = usbIdGroups(profiles);
    const ch340 = groups.find((g) => g.vendorId === '1a86' && g.productId === '7523')!;
    expect(ch340.profiles.length).toBeGreaterThan(1);
    expect(ch340.stem).toBe('ch340');
    const mobilinkd = groups.find((g) => g.profiles.length === 1 && g.profiles[0] === 'mobilinkd');
    expect(mobilinkd?.stem).toBe('mobilinkd');
    // Chip stems never take a profile's name and never repeat.
    const chipStems = groups.filter((g) => g.profiles.length > 1).map((g) => g.stem);
    expect(new Set(chipStems).size).toBe(chipStems.length);
    for (const s of chipStems) expect(profiles.map((p) => p.id)).not.toContain(s);
  });

  it("passes udev's own rule parser (udevadm test, in a private mount namespace), which rejects a broken rule", () => {
    const check = (rules: string): string => {
      const dir = mkdtempSync(join(tmpdir(), 'altnet-udev-'));
      try {
        writeFileSync(join(dir, '70-altnet.rules'), rules);
        // /run is a throw-away tmpfs and rules.d our directory, so the run leaves nothing behind;
        // tty0 has no USB parent, so none of our rules fires.
        const r = spawnSync(
          'unshare',
          [
            '-m',
            'sh',
            '-c',
            `mount -t tmpfs none /run && mount --bind "${dir}" /etc/udev/rules.d && udevadm test --action=add /sys/class/tty/tty0`,
          ],
          { encoding: 'utf8', timeout: 30_000 },
        );
        expect(r.error).toBeUndefined();
        return r.stdout + r.stderr;
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    };
    const good = check(renderUdevRules(profiles));
    expect(good).toContain('Reading rules file: /etc/udev/rules.d/70-altnet.rules');
    expect(good.split('\n').filter((l) => l.includes('70-altnet.rules:'))).toEqual([]);
    const bad = check(renderUdevRules(profiles).replace('GROUP="dialout"', 'GRUOP="dialout"'));
    expect(bad).toMatch(/70-altnet\.rules:\d+ Invalid key 'GRUOP'/);
  });
});

describe('altnet boards', () => {
  it('matches ports to profiles by USB id and shows the stable name pointing at each', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'altnet-devs-'));
    try {
      // A stand-in for udev's symlink: /dev/null resolves to itself, like /dev/ttyUSB0 would.
      symlinkSync('/dev/null', join(dir, 'ch340-0'));
      const io = memoryIO();
      const code = await runBoards(['--json'], io, {
        list: async () => [
          { path: '/dev/null', vendorId: '1A86', productId: '7523', manufacturer: 'QinHeng' },
          { path: '/dev/ttyACM3', vendorId: '0483', productId: '5740', usbPort: '1-1.4', serialNumber: 'TNC4 0042' },
          { path: '/dev/ttyUSB9', vendorId: 'dead', productId: 'beef' },
          { path: '/dev/ttyS0' },
        ],
        profiles: () => profiles,
        devicedir: dir,
      });
      expect(code).toBe(0);
      const { devices } = JSON.parse(io.stdout.join('\n'));
      expect(devices[0].profiles).toContain('rak3172');
      expect(devices[0].profiles).toContain('ebyte-e22');
      expect(devices[0].stableNames).toEqual([join(dir, 'ch340-0')]);
      expect(devices[1]).toMatchObject({
        profiles: ['mobilinkd'],
        expectedNames: ['/dev/altnet/mobilinkd-usb1-1.4', '/dev/altnet/mobilinkd-TNC4_0042'],
      });
      expect(devices[2].profiles).toEqual([]);
      expect(devices[3].profiles).toEqual([]);

      const text = memoryIO();
      await runBoards([], text, {
        list: async () => [{ path: '/dev/ttyACM3', vendorId: '0483', productId: '5740', usbPort: '1-1.4' }],
        profiles: () => profiles,
        devicedir: dir,
      });
      expect(text.stdout[0]).toMatch(/^DEVICE\s+USB ID\s+MANUFACTURER\s+PROFILES\s+STABLE NAME$/);
      expect(text.stdout[1]).toContain('mobilinkd');
      expect(text.stdout[1]).toContain('/dev/altnet/mobilinkd-usb1-1.4 (udev rules not installed?)');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says plainly when there are no devices', async () => {
    const io = memoryIO();
    expect(await runBoards([], io, { list: async () => [], profiles: () => profiles, devicedir: '/nonexistent' })).toBe(0);
    expect(io.stdout).toEqual(['No serial devices found. Plug in a radio (USB) and run `altnet boards` again.']);
  });

  it("runs against this machine's real serial ports", async () => {
    const io = memoryIO();
    expect(await runBoardsCommand(['--json', '--devicedir=/nonexistent'], io)).toBe(0);
    const { devices } = JSON.parse(io.stdout.join('\n'));
    expect(Array.isArray(devices)).toBe(true);
    for (const d of devices) expect(d.path).toMatch(/^\/dev\//);
  });

  it('rejects an unknown flag with usage and exit code 2', async () => {
    const io = memoryIO();
    expect(await runBoards(['--jsn'], io, { list: async () => [], profiles: () => profiles, devicedir: '/x' })).toBe(2);
    expect(io.stderr[0]).toContain('unknown option "--jsn"');
  });

  it("finds the USB port of a tty in sysfs, as udev's $attr{busnum}-$attr{devpath} reads it", () => {
    const sys = mkdtempSync(join(tmpdir(), 'altnet-sys-'));
    try {
      // /sys/devices/.../usb1/1-1/1-1.3 (busnum 1, devpath 1.3) / 1-1.3:1.0 (interface) / ttyUSB0
      const usbDev = join(sys, 'devices/pci0000:00/usb1/1-1/1-1.3');
      const tty = join(usbDev, '1-1.3:1.0/ttyUSB0');
      mkdirSync(tty, { recursive: true });
      writeFileSync(join(usbDev, 'busnum'), '1\n');
      writeFileSync(join(usbDev, 'devpath'), '1.3\n');
      mkdirSync(join(sys, 'class/tty/ttyUSB0'), { recursive: true });
      symlinkSync(tty, join(sys, 'class/tty/ttyUSB0/device'));
      expect(usbPortOf('/dev/ttyUSB0', sys)).toBe('1-1.3');
      expect(usbPortOf('/dev/ttyS0', sys)).toBeUndefined();
      // Plugged in second or first, the radio keeps the name of its port.
      const [d] = matchDevices(
        [{ path: '/dev/ttyUSB7', vendorId: '1a86', productId: '7523', usbPort: usbPortOf('/dev/ttyUSB0', sys) }],
        profiles,
      );
      expect(d.expectedNames).toEqual(['/dev/altnet/ch340-usb1-1.3']);
    } finally {
      rmSync(sys, { recursive: true, force: true });
    }
  });

  it('matchDevices ignores case in USB ids', () => {
    const [d] = matchDevices([{ path: '/dev/ttyUSB0', vendorId: '10C4', productId: 'EA60', usbPort: '3-2' }], profiles);
    expect(d.profiles).toContain('rnode');
    expect(d.expectedNames).toEqual(['/dev/altnet/cp2102-usb3-2']);
  });
});
