// Pure parts of the LoRa dialects: E22 framing, the Meshtastic stream and protobufs, the line
// splitter, the setup commands each modem gets.
import { describe, expect, it } from 'vitest';
import { findBoardProfile } from '../../../src/links/boards.js';
import { resolveLoraSettings } from '../../../src/links/lora/common.js';
import { E22Decoder, encodeE22Frame } from '../../../src/links/lora/ebyte.js';
import {
  MeshtasticStreamDecoder,
  decodeFromRadio,
  decodeToRadio,
  encodeFromRadio,
  encodeToRadio,
  frameStream,
} from '../../../src/links/lora/meshtastic-schema.js';
import { rakP2pCommand, rakSetupCommands } from '../../../src/links/lora/rak3172.js';
import { rn2483SetupCommands } from '../../../src/links/lora/rn2483.js';
import { rnodeConfigFrames } from '../../../src/links/lora/rnode.js';
import { LineModem, LineSplitter } from '../../../src/links/radio/lines.js';
import { ManualClock } from '../../../src/util/clock.js';
import { Counters } from '../../../src/util/counters.js';
import { silentLogger } from '../../../src/util/log.js';

describe('E22 framing', () => {
  it('finds frames in noise, rejects corrupted ones and resynchronises', () => {
    const errors: string[] = [];
    const dec = new E22Decoder((c) => errors.push(c));
    const good = encodeE22Frame(Uint8Array.of(1, 2, 3));
    const bad = encodeE22Frame(Uint8Array.of(4, 5, 6));
    bad[4] ^= 0xff;
    const stream = new Uint8Array([0x00, 0xa5, 0x11, ...bad, ...good, 0xa5]);
    const out = [...stream].flatMap((b) => dec.push(Uint8Array.of(b)));
    expect(out.map((f) => [...f])).toEqual([[1, 2, 3]]);
    expect(errors).toContain('e22-bad-crc');
    expect(() => encodeE22Frame(new Uint8Array(256))).toThrow(RangeError);
  });
});

describe('Meshtastic serial API', () => {
  it('frames protobufs with 94 C3 and a big-endian length, skipping console text and bad lengths', () => {
    const pb = encodeFromRadio({ id: 7, packet: { from: 1, to: 0xffffffff, decoded: { portnum: 256, payload: Uint8Array.of(9, 8) } } });
    const f = frameStream(pb);
    expect([...f.subarray(0, 4)]).toEqual([0x94, 0xc3, pb.length >> 8, pb.length & 0xff]);
    const noise: string[] = [];
    const dec = new MeshtasticStreamDecoder((c) => noise.push(c));
    const junk = new TextEncoder().encode('DEBUG | boot\r\n');
    const out = dec.push(new Uint8Array([...junk, 0x94, 0xc3, 0xff, 0xff, ...f]));
    expect(out).toHaveLength(1);
    const m = decodeFromRadio(out[0]);
    expect(m.packet?.decoded?.portnum).toBe(256);
    expect([...(m.packet?.decoded?.payload ?? [])]).toEqual([9, 8]);
    expect(m.packet?.to).toBe(0xffffffff);
    expect(noise).toEqual(['mesh-bad-length', 'mesh-console-bytes']);
  });

  it('encodes ToRadio with the field numbers of mesh.proto', () => {
    // want_config_id is field 3 (varint): tag 0x18.
    expect([...encodeToRadio({ wantConfigId: 5 })]).toEqual([0x18, 0x05]);
    const t = decodeToRadio(encodeToRadio({ packet: { to: 0xffffffff, id: 3, decoded: { portnum: 256, payload: Uint8Array.of(1) } } }));
    expect(t.packet?.decoded?.portnum).toBe(256);
    // MeshPacket is field 1 (length-delimited): tag 0x0a.
    expect(encodeToRadio({ packet: { id: 1 } })[0]).toBe(0x0a);
  });
});

describe('modem setup commands', () => {
  const s = resolveLoraSettings(findBoardProfile('rak3172'), { region: 'EU868', sf: 9 });
  it('RAK3172 P2P parameters', () => {
    expect(rakP2pCommand(s)).toBe('AT+P2P=868100000:9:125:0:18:14');
    // The profile's sync word 0x12 in RUI3's SX126x form, normal IQ.
    expect(rakSetupCommands(s).slice(1)).toEqual(['AT+SYNCWORD=1424', 'AT+IQINVER=0']);
  });
  it('RN2483 radio settings', () => {
    expect(rn2483SetupCommands(s)).toEqual([
      'radio set mod lora',
      'radio set freq 868100000',
      'radio set sf sf9',
      'radio set bw 125',
      'radio set cr 4/5',
      'radio set pwr 14',
      'radio set prlen 18',
      'radio set crc on',
      'radio set iqi off',
      'radio set sync 12',
      'radio set wdt 0',
    ]);
  });
  it('RNode parameter frames, big-endian', () => {
    const f = rnodeConfigFrames(s);
    expect(f.map((x) => [x.cmd, Buffer.from(x.value).toString('hex')])).toEqual([
      [1, Buffer.from([0x33, 0xbe, 0x27, 0xa0]).toString('hex')],
      [2, '0001e848'],
      [3, '0e'],
      [4, '09'],
      [5, '05'],
      [6, '01'],
    ]);
  });
});

describe('line splitter', () => {
  it('keeps memory bounded on endless input and reports overlong and non-UTF-8 lines', () => {
    const sp = new LineSplitter(16);
    const evs = [
      ...sp.push(new TextEncoder().encode('OK\r\n')),
      ...sp.push(new Uint8Array(100_000).fill(0x41)),
      ...sp.push(Uint8Array.of(0x0a, 0xff, 0x0a)),
      ...sp.push(new TextEncoder().encode('+EVT:RXP2P:1\n')),
    ];
    expect(evs).toEqual([
      { line: 'OK' },
      { garbage: 'overlong', bytes: 100_000 },
      { garbage: 'non-utf8', bytes: 1 },
      { line: '+EVT:RXP2P:1' },
    ]);
  });
});

describe('line modem', () => {
  it('takes an answer and its follow-up event from the same read, and times out a missing one', async () => {
    const clock = new ManualClock();
    const written: string[] = [];
    const unsolicited: string[] = [];
    const modem = new LineModem({
      maxLineBytes: 64,
      lineEnding: '\r\n',
      clock,
      log: silentLogger(),
      counters: new Counters(),
      write: async (b) => void written.push(new TextDecoder().decode(b)),
      onUnsolicited: (l) => unsolicited.push(l),
    });
    const exp = {
      ok: (l: string) => l === 'ok',
      error: (l: string) => l === 'busy',
      timeoutMs: 100,
      then: { label: 'radio_tx_ok', ok: (l: string) => l === 'radio_tx_ok', error: (l: string) => l === 'radio_err', timeoutMs: 1000 },
    };
    const p = modem.command('radio tx 01', exp);
    await Promise.resolve();
    modem.push(new TextEncoder().encode('radio_rx  0A\r\nok\r\nradio_tx_ok\r\n'));
    await expect(p).resolves.toBe('radio_tx_ok');
    expect(written).toEqual(['radio tx 01\r\n']);
    expect(unsolicited).toEqual(['radio_rx  0A']);

    const q = modem.command('radio tx 02', exp);
    await Promise.resolve();
    modem.push(new TextEncoder().encode('ok\r\n'));
    clock.advance(999);
    modem.push(new TextEncoder().encode('radio_err\r\n'));
    await expect(q).rejects.toThrow(/radio_err/);

    const r = modem.command('radio tx 03', exp);
    await Promise.resolve();
    modem.push(new TextEncoder().encode('ok\r\n'));
    clock.advance(1000);
    await expect(r).rejects.toThrow(/did not answer "radio_tx_ok" within 1000 ms/);
  });
});
