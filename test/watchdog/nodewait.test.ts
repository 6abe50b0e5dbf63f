// node-not-connected: a warning and an anomaly when no Bitcoin node has been connected for
// `nodewait`, quoting the address the node must dial; cleared when one connects, raised again
// when it has been gone that long. Unit level with a manual clock, then a real gateway.
import { afterEach, describe, expect, it } from 'vitest';
import { Watchdog, type Anomaly } from '../../src/watchdog/watchdog.js';
import { Counters } from '../../src/util/counters.js';
import { memoryLogger } from '../../src/util/log.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { NETWORKS } from '../../src/chain/networks.js';
import { parseConfig } from '../../src/cli/config.js';

describe('watchdog: node-not-connected', () => {
  it('raises after the wait with the address, clears on a connection, raises again after the node went', () => {
    let now = 1_000_000;
    let conns = 0;
    const events: Array<[string, Anomaly]> = [];
    const log = memoryLogger();
    const counters = new Counters();
    const w = new Watchdog({
      log,
      counters,
      nowSeconds: () => now,
      onAnomaly: (a, c) => events.push([c, a]),
      nodeConnection: { connections: () => conns, waitSeconds: 600, address: () => '127.0.0.1:18444' },
    });
    now += 599;
    expect(w.check()).toEqual([]);
    now += 1;
    const [a] = w.check();
    expect(a.kind).toBe('node-not-connected');
    expect(a.detail).toBe(
      'no Bitcoin node has been connected to 127.0.0.1:18444 for 10 min: put addnode=127.0.0.1:18444 in bitcoin.conf and restart the node (or check that it runs); until it connects altnet cannot give it what it learns',
    );
    expect(log.lines.some((l) => /WARN .*anomaly kind=node-not-connected/.test(l))).toBe(true);
    expect(counters.get('raised.node-not-connected')).toBe(1);
    now += 60;
    expect(w.check()).toEqual([]); // raised once, not every check

    conns = 1;
    w.check();
    expect(w.active()).toEqual([]);
    expect(events.map(([c, x]) => `${c} ${x.kind}`)).toEqual(['raised node-not-connected', 'cleared node-not-connected']);

    conns = 0;
    now += 300;
    expect(w.check()).toEqual([]);
    now += 300;
    expect(w.check().map((x) => x.kind)).toEqual(['node-not-connected']);
  });

  it('never raises with a wait of 0', () => {
    let now = 0;
    const w = new Watchdog({
      log: memoryLogger(),
      counters: new Counters(),
      nowSeconds: () => now,
      nodeConnection: { connections: () => 0, waitSeconds: 0, address: () => 'x' },
    });
    now += 1e9;
    expect(w.check()).toEqual([]);
  });

  it('nodewait= is a duration option, 10 min by default', () => {
    expect(parseConfig('', '').nodewait).toBe(600_000);
    expect(parseConfig('nodewait=30s\n', '/x.conf').nodewait).toBe(30_000);
    expect(parseConfig('nodewait=0\n', '/x.conf').nodewait).toBe(0);
    expect(() => parseConfig('nodewait=soon\n', '/x.conf')).toThrow(/\/x\.conf:1: nodewait=soon: expected a duration/);
  });
});

describe('gateway: node-not-connected quotes the real listen address', () => {
  let gw: Gateway | undefined;
  afterEach(async () => {
    await gw?.stop();
    gw = undefined;
  });

  it('on a port of its own choosing', async () => {
    let now = 2_000_000;
    const log = memoryLogger();
    gw = await Gateway.start({
      network: NETWORKS.regtest,
      listen: { host: '127.0.0.1', port: 0 },
      links: [],
      log,
      checkpoint: null,
      nowSeconds: () => now,
      nodeWaitMs: 5_000,
    });
    expect(gw.watchdog.check()).toEqual([]);
    now += 5;
    gw.watchdog.check();
    const a = gw.status().anomalies.find((x) => x.kind === 'node-not-connected');
    expect(a?.detail).toContain(`put addnode=127.0.0.1:${gw.nodePort} in bitcoin.conf`);
    expect(log.lines.some((l) => l.includes(`no Bitcoin node has been connected to 127.0.0.1:${gw!.nodePort}`))).toBe(true);
  });
});
