// The RNode driver against an emulator written from RNode_Firmware itself (test/emulators/radios/
// rnode.ts): what the firmware really echoes, announces and reports, and how Reticulum's
// RNodeInterface reacts. Each case reproduces a defect of the earlier driver.
import { describe, expect, it } from 'vitest';
import { createRadioTransport } from '../../../src/links/radio/factory.js';
import { RNodeTransport } from '../../../src/links/lora/rnode.js';
import type { LoraOverrides } from '../../../src/links/lora/common.js';
import { Counters } from '../../../src/util/counters.js';
import { silentLogger } from '../../../src/util/log.js';
import { RNodeEmulator, sx127xReadBack, type RNodeChip } from '../../emulators/radios/rnode.js';
import { until } from '../../helpers/wait.js';
import { loraRig } from './rig.js';

const EU = { region: 'EU868', frequencyHz: 868_100_000, sf: 7 } as const;

async function rig(radio: LoraOverrides, chip: RNodeChip = 'sx1276', make = () => new RNodeEmulator({ chip })) {
  const r = await loraRig('rnode', RNodeTransport, make(), radio, { name: 'rn0', commandTimeoutMs: 400 });
  const detects = () => r.emulator.commands.filter((c) => c === '0x8').length;
  return { ...r, t: r.transport, emu: r.emulator, detects };
}

describe('RNode as the firmware behaves', () => {
  it('accepts the frequency the SX127x reads back (868100000 -> 868099975) when configuring again after an error', async () => {
    expect(sx127xReadBack(868_100_000)).toBe(868_099_975);
    const r = await rig(EU);
    await r.t.open();
    expect(r.t.info.reported.frequencyHz).toBe(868_099_975);
    expect(r.t.info.firmware).toBe('1.86');
    expect(r.t.info.platform).toBe('ESP32');
    // ERROR_INITRADIO while on: we configure again, with the radio still on, so the echo is rounded.
    r.emu.reportError(0x01);
    await until('reconfigure started', () => r.counters.get('recover.modem-error') === 1);
    await until('configured again despite the rounded echo', () => r.t.state === 'up', 3000);
    expect(r.counters.get('recover_failures')).toBe(0);
  });

  it('notices the CMD_RESET 0xF8 a reboot announces and turns the radio on again, with nothing to send', async () => {
    const r = await rig(EU);
    await r.t.open();
    r.emu.reboot();
    expect(r.emu.radioOnline).toBe(false);
    // A receive-only link never transmits: only the announcement can bring the radio back.
    await until('radio on again after the reboot', () => r.emu.radioOnline && r.t.state === 'up', 3000);
    expect(r.counters.get('modem_resets')).toBe(1);
    expect(r.logged(/RNode rebooted/)).toBe(true);
    r.emu.receive(Uint8Array.of(0x30, 0xaa, 0xbb));
    await until('frame received after the reboot', () => r.received.length === 1);
    expect([...r.received[0]]).toEqual([0xaa, 0xbb]);
  });

  it('only logs ERROR_MEMORY_LOW (0x05) and ERROR_MODEM_TIMEOUT (0x06), as Reticulum does', async () => {
    const r = await rig(EU);
    await r.t.open();
    const before = r.detects();
    r.emu.reportError(0x05);
    r.emu.reportError(0x06);
    await until('errors seen', () => r.counters.get('rnode_error_06') === 1);
    await new Promise((res) => setTimeout(res, 200));
    expect(r.t.state).toBe('up');
    expect(r.detects()).toBe(before);
    expect(r.logged(/memory low/)).toBe(true);
    await r.t.send(Uint8Array.of(1));
    expect(r.emu.transmitted).toHaveLength(1);
  });

  it('does not count a frame the firmware failed to transmit (0x02) as sent; it goes out after the reboot', async () => {
    const r = await rig(EU);
    await r.t.open();
    r.emu.failNextTx = true; // endPacket() fails: 0x06, 0x02, hard_reset()
    await r.t.send(Uint8Array.of(0xde, 0xad));
    expect(r.counters.get('transmit_failures')).toBe(1);
    expect(r.counters.get('frames_sent')).toBe(1);
    expect(r.emu.hostFrames).toHaveLength(2); // written twice, on air once
    expect(r.emu.transmitted.map((p) => Buffer.from(p.bytes.subarray(1)).toString('hex'))).toEqual(['dead']);
  });

  it('writes TX power as an unsigned byte and accepts the chip cap (20 dBm asked, SX127x applies 17)', async () => {
    const r = await rig({ ...EU, txPowerDbm: 20 });
    await r.t.open();
    expect(r.emu.txp).toBe(17);
    expect(r.t.info.reported.txPowerDbm).toBe(17);
    expect(r.logged(/capped the TX power/)).toBe(true);
    const deps = { log: silentLogger(), counters: new Counters() };
    expect(() => createRadioTransport({ type: 'lora', board: 'rnode', device: '/dev/null', region: 'EU868', txpower: '-1' }, deps)).toThrow(
      /unsigned byte/,
    );
  });

  it('puts the 1-byte header on air with the preamble the firmware computes', async () => {
    const r = await rig(EU, 'sx1262');
    await r.t.open();
    await r.t.send(Uint8Array.of(7, 7, 7));
    const p = r.emu.transmitted[0];
    expect(p.bytes).toHaveLength(4);
    expect(p.bytes[0] & 0x0f).toBe(0); // sequence nibble, no split flag
    expect(p.phy.preambleSymbols).toBe(24); // SF7/125 kHz: ceil(24 ms / 1.024 ms)
    expect(p.phy.syncWord).toBe(0x12);
  });

  it('treats version and platform as information: an old firmware is warned about, a silent one still used', async () => {
    const old = await rig(EU, 'sx1276', () => new RNodeEmulator({ version: [1, 40] }));
    await old.t.open();
    expect(old.logged(/older than Reticulum requires/)).toBe(true);
    const quiet = new RNodeEmulator();
    quiet.ignore.add(0x50).add(0x48); // CMD_FW_VERSION, CMD_PLATFORM
    const r = await rig(EU, 'sx1276', () => quiet);
    await r.t.open();
    expect(r.t.info.firmware).toBeUndefined();
    expect(r.t.state).toBe('up');
  });
});
