import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findBoardProfile, loadBoardProfiles, maxPayloadFor, parseBoardProfile, profilesForUsb } from '../../../src/links/boards.js';
import { EU868_MAX_PAYLOAD } from '../../../src/links/sim/transport.js';
import { ConfigError } from '../../../src/util/errors.js';

describe('board profiles', () => {
  it('loads every profile in boards/ and covers the device families', () => {
    const all = loadBoardProfiles();
    expect(all.map((p) => p.id)).toEqual([
      'direwolf',
      'ebyte-e22',
      'kiss-tnc',
      'meshtastic',
      'mobilinkd',
      'nordic-uart',
      'rak3172',
      'rn2483',
      'rnode',
    ]);
    const mobilinkd = all.find((p) => p.id === 'mobilinkd')!;
    expect(mobilinkd.transports.serial).toBeDefined();
    expect(mobilinkd.transports.ble?.framing).toBe('kiss');
    expect(findBoardProfile('direwolf').transports.tcp?.defaultPort).toBe(8001);
  });

  it('finds profiles by USB id and gives regional payload limits', () => {
    const all = loadBoardProfiles();
    expect(profilesForUsb(all, '0483', '5740').map((p) => p.id)).toEqual(['mobilinkd']);
    const rak = findBoardProfile('rak3172');
    expect(maxPayloadFor(rak, 'EU868', 12, 125_000)).toBe(115); // not LoRaWAN DR0's 51: boards/rak3172.json notes
    expect(maxPayloadFor(rak, 'EU868', 9, 125_000)).toBe(115);
    expect(maxPayloadFor(rak, 'EU868', 7, 125_000)).toBe(222);
    expect(maxPayloadFor(rak, 'US915', 10, 125_000)).toBe(255); // no table: the dwell time bounds it
    // The simulated air's frame sizes are the LoRa boards' (one fact, one table each: kept equal).
    for (const id of ['rnode', 'rak3172', 'rn2483'])
      for (const sf of [7, 8, 9, 10, 11, 12])
        expect([id, sf, maxPayloadFor(findBoardProfile(id), 'EU868', sf, 125_000)]).toEqual([id, sf, EU868_MAX_PAYLOAD[sf]]);
  });

  it('rejects a broken profile naming the file and field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'boards-'));
    try {
      const good = JSON.parse(readFileSync(findBoardProfile('rak3172').file!, 'utf8'));
      good.transports.serial.baudRate = -5;
      writeFileSync(join(dir, 'rak3172.json'), JSON.stringify(good));
      expect(() => loadBoardProfiles(dir)).toThrow(/rak3172\.json: transports\.serial\.baudRate must be an integer/);
      writeFileSync(join(dir, 'rak3172.json'), '{ nope');
      expect(() => loadBoardProfiles(dir)).toThrow(ConfigError);
      expect(() => findBoardProfile('nosuch')).toThrow(/known boards: direwolf/);
      expect(() => parseBoardProfile({ ...good, transports: {} }, 'x')).toThrow(/at least one of serial, tcp, ble/);
      expect(() => parseBoardProfile({ ...good, extra: 1 }, 'x')).toThrow(/extra is not a known field/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
