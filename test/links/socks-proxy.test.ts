// Internet links through a real SOCKS5 proxy (Debian's microsocks, the Tor stand-in): p2p to a
// real regtest bitcoind, esplora over HTTP and HTTPS, electrum, each given the destination as
// the name "localhost", which only the proxy resolves. While they run, every socket this
// process opens is recorded and name lookups are trapped: the links connect only to the proxy
// and look up no name themselves; microsocks' own log shows it connected to each by name.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import dns from 'node:dns';
import net from 'node:net';
import { create as createP2P } from '../../src/links/p2p/p2p.js';
import { create as createEsplora } from '../../src/links/esplora/esplora.js';
import { create as createElectrum } from '../../src/links/electrum/electrum.js';
import { NETWORKS } from '../../src/chain/networks.js';
import { headerHash } from '../../src/chain/header.js';
import { BitcoindProcess, freePort } from '../harness/bitcoind.js';
import { headersFromNode } from '../harness/gateway.js';
import { servedChain } from '../servers/chain.js';
import { compareRuns, recordingContext } from '../servers/context.js';
import { startEsploraServer } from '../servers/esplora-server.js';
import { startElectrumServer } from '../servers/electrum-server.js';
import { makeSelfSignedCert } from '../servers/tls.js';
import { lifecycle } from '../servers/lifecycle.js';
import { until } from '../helpers/wait.js';
import { startMicrosocks, type Microsocks } from '../servers/microsocks.js';

const chain = servedChain();
const { track, serve } = lifecycle();
let ms: Microsocks;
let socksPort = 0;
let node: BitcoindProcess;

// Every TCP connect this process makes, and every name lookup, while the links run.
const connects: string[] = [];
const lookups: string[] = [];
const realConnect = net.Socket.prototype.connect;
const realLookup = dns.lookup;

function startTrap(): void {
  net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
    const a = args[0];
    const o = (typeof a === 'object' && a !== null ? a : { port: a, host: args[1] }) as { host?: string; port?: unknown; path?: string };
    if (!o.path) connects.push(`${o.host ?? 'localhost'}:${String(o.port)}`);
    return (realConnect as (...x: unknown[]) => net.Socket).apply(this, args);
  } as typeof realConnect;
  (dns as { lookup: unknown }).lookup = (host: string, ...rest: unknown[]) => {
    lookups.push(host);
    return (realLookup as (...x: unknown[]) => unknown)(host, ...rest);
  };
}
function stopTrap(): void {
  net.Socket.prototype.connect = realConnect;
  (dns as { lookup: unknown }).lookup = realLookup;
}

beforeAll(async () => {
  node = await new BitcoindProcess({ name: 'socks-p2p' }).start();
  await node.mine(12);
  ms = await startMicrosocks();
  socksPort = ms.port;
}, 60_000);

afterAll(async () => {
  stopTrap();
  await ms?.close();
  await node?.stop();
});

describe('internet links through a SOCKS5 proxy (microsocks)', () => {
  it('p2p (real bitcoind, BIP324), esplora (http and https) and electrum reach "localhost" only through the proxy, looking up no name', async () => {
    const esplora = await serve(startEsploraServer({ tipHeight: chain.first + 30 }));
    const cert = makeSelfSignedCert();
    const esploraTls = await serve(startEsploraServer({ tls: { cert: cert.cert, key: cert.key }, tipHeight: chain.first + 30 }));
    const electrum = await serve(startElectrumServer({ tipHeight: chain.first + 30 }));
    const proxy = `127.0.0.1:${socksPort}`;
    const viaName = (url: string) => url.replace('127.0.0.1', 'localhost');

    const recP = recordingContext(NETWORKS.regtest);
    const recE = recordingContext();
    const recT = recordingContext();
    const recL = recordingContext();
    startTrap();
    try {
      const p2p = track(createP2P({ name: 'p', type: 'p2p', peer: `localhost:${node.p2pPort}`, proxy }, recP.ctx));
      const e = track(createEsplora({ name: 'e', type: 'esplora', url: viaName(esplora.url), rate: '0', proxy }, recE.ctx));
      const t = track(
        createEsplora({ name: 't', type: 'esplora', url: viaName(esploraTls.url), ca: cert.certPath, rate: '0', proxy }, recT.ctx),
      );
      const l = track(createElectrum({ name: 'l', type: 'electrum', server: `localhost:${electrum.port}`, proxy }, recL.ctx));
      await Promise.all([p2p.start(), e.start(), t.start(), l.start()]);
      await p2p.requestHeaders!([headerHash(NETWORKS.regtest.genesisHeader)]);
      await e.requestHeaders!([chain.parentHash]);
      await t.requestHeaders!([chain.parentHash]);
      await l.requestHeaders!([chain.parentHash]);
    } finally {
      stopTrap();
    }
    expect(compareRuns(recP.all(), await headersFromNode(node, 1))).toBe('same');
    expect(recE.all().length).toBeGreaterThanOrEqual(30);
    expect(compareRuns(recE.all().slice(0, 30), chain.headers.slice(0, 30))).toBe('same');
    expect(compareRuns(recT.all().slice(0, 30), chain.headers.slice(0, 30))).toBe('same');
    expect(compareRuns(recL.all().slice(0, 30), chain.headers.slice(0, 30))).toBe('same');
    // The node saw a BIP324 (v2) connection: the encrypted transport runs inside the proxied socket.
    const inbound = (await node.rpc<{ inbound: boolean; transport_protocol_type: string }[]>('getpeerinfo')).filter((p) => p.inbound);
    expect(inbound.map((p) => p.transport_protocol_type)).toEqual(['v2']);

    // Every socket went to the proxy, no name was looked up here...
    expect(connects.length).toBeGreaterThanOrEqual(4);
    expect(new Set(connects)).toEqual(new Set([`127.0.0.1:${socksPort}`]));
    expect(lookups).toEqual([]);
    // ...and the proxy was asked for each destination by name.
    for (const port of [node.p2pPort, new URL(esplora.url).port, new URL(esploraTls.url).port, electrum.port]) {
      await until(`microsocks connecting to localhost:${port}`, () => ms.log().includes(`connected to localhost:${port}`));
    }
  }, 60_000);

  it('a name only the proxy could resolve fails at the proxy, not at a local lookup; a proxy that is down says so', async () => {
    const rec = recordingContext();
    startTrap();
    lookups.length = 0;
    try {
      const e = track(
        createEsplora(
          {
            name: 'x',
            type: 'esplora',
            url: 'http://no-such-host.invalid/api',
            rate: '0',
            timeout: '5000',
            proxy: `127.0.0.1:${socksPort}`,
          },
          rec.ctx,
        ),
      );
      await e.start().catch(() => {});
      await e.requestHeaders!([chain.parentHash]).catch(() => {});
      await until(
        'the link to say why',
        () => rec.log.lines.join('\n').includes('SOCKS5 proxy') || rec.states.some((s) => /SOCKS5 proxy/.test(s.reason ?? '')),
        10_000,
        () => JSON.stringify({ states: rec.states, log: rec.log.lines.slice(-5) }),
      );
    } finally {
      stopTrap();
    }
    expect(lookups).toEqual([]);

    const down = await freePort();
    const rec2 = recordingContext();
    const l = track(
      createElectrum({ name: 'y', type: 'electrum', server: 'localhost:50001', timeout: '3000', proxy: `127.0.0.1:${down}` }, rec2.ctx),
    );
    await l.start().catch(() => {});
    await l.requestHeaders!([chain.parentHash]).catch(() => {});
    await until(
      'the electrum link to name the proxy',
      () =>
        rec2.log.lines.join('\n').includes(`SOCKS5 proxy 127.0.0.1:${down}`) ||
        rec2.states.some((s) => (s.reason ?? '').includes(`127.0.0.1:${down}`)),
      10_000,
      () => JSON.stringify({ states: rec2.states, log: rec2.log.lines.slice(-5) }),
    );
  }, 30_000);
});
