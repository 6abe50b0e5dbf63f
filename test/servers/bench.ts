// `npm run bench -- sources`: how fast the internet header-source links fetch and check real
// headers from local servers on loopback (an upper bound: real servers add latency).
import { checkHeaderRun } from '../../src/links/source/index.js';
import { NETWORKS } from '../../src/chain/networks.js';
import { create as createEsplora } from '../../src/links/esplora/esplora.js';
import { create as createElectrum } from '../../src/links/electrum/electrum.js';
import { create as createDns } from '../../src/links/dns/dns.js';
import type { Link } from '../../src/links/link.js';
import { servedChain } from './chain.js';
import { recordingContext } from './context.js';
import { startEsploraServer } from './esplora-server.js';
import { startElectrumServer } from './electrum-server.js';
import { startDnsServer } from './dns-server.js';

async function timeFetch(link: Link, want: number, delivered: () => number): Promise<Record<string, number>> {
  await link.start();
  const chain = servedChain();
  const t0 = performance.now();
  await link.requestHeaders!([chain.parentHash]);
  const ms = performance.now() - t0;
  await link.stop();
  const n = delivered();
  if (n !== want) throw new Error(`expected ${want} headers, got ${n}`);
  return { headers: n, ms: Math.round(ms), headersPerSecond: Math.round((n / ms) * 1000) };
}

export async function bench(): Promise<Record<string, unknown>> {
  const chain = servedChain();
  const out: Record<string, unknown> = {};

  const reps = 20;
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) {
    const r = checkHeaderRun(chain.headers, chain.parentHash, NETWORKS.main.powLimit);
    if (!r.ok) throw new Error('real headers failed validation');
  }
  const ms = (performance.now() - t0) / reps;
  out.validateRun = {
    headers: chain.headers.length,
    msPerRun: +ms.toFixed(2),
    headersPerSecond: Math.round((chain.headers.length / ms) * 1000),
  };

  {
    const s = await startEsploraServer();
    const rec = recordingContext();
    const link = createEsplora({ name: 'bench', url: s.url, rate: '0', maxheaders: '500' }, rec.ctx);
    out.esploraHttp = { ...(await timeFetch(link, 500, () => rec.all().length)), httpRequests: s.requests.length };
    await s.close();
  }
  {
    const s = await startElectrumServer();
    const rec = recordingContext();
    const link = createElectrum({ name: 'bench', server: `127.0.0.1:${s.port}`, maxheaders: String(chain.headers.length) }, rec.ctx);
    out.electrumTcp = { ...(await timeFetch(link, chain.headers.length, () => rec.all().length)), rpcRequests: s.requests.length };
    await s.close();
  }
  {
    const s = await startDnsServer();
    const rec = recordingContext();
    const link = createDns({ name: 'bench', domain: s.domain, server: `127.0.0.1:${s.port}`, rate: '0', maxheaders: '400' }, rec.ctx);
    out.dnsV2 = { ...(await timeFetch(link, 400, () => rec.all().length)), queries: s.queries.length };
    await s.close();
  }
  return out;
}
