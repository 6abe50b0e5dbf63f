// Child process of the BIP324 proxy bench (bip324-proxy.ts): one Bip324Proxy on a free loopback
// port, in its own process as in real use (so its CPU and memory are its own). Started with
// fork() and --expose-gc; argv[2] is an optional fixed destination (host:port) for plain
// clients. Sends {port} when listening; answers 'mem' with its memory after a full
// collection, 'cpu' with its CPU time so far, 'counters' with its counters; exits on 'stop'.
import { Bip324Proxy } from '../../src/proxy/proxy.js';
import { Counters } from '../../src/util/counters.js';
import { silentLogger } from '../../src/util/log.js';

const gc = (globalThis as { gc?: () => void }).gc;
const toArg = process.argv[2];
const to = toArg ? { host: toArg.slice(0, toArg.lastIndexOf(':')), port: Number(toArg.slice(toArg.lastIndexOf(':') + 1)) } : undefined;
const counters = new Counters();
const proxy = new Bip324Proxy({ listen: { host: '127.0.0.1', port: 0 }, to, log: silentLogger(), counters, maxConnections: 1000 });
const port = await proxy.listen();
process.send!({ port });
process.on('message', async (m: string) => {
  if (m === 'mem') {
    for (let i = 0; i < 3; i++) {
      gc?.();
      await new Promise((r) => setTimeout(r, 50));
    }
    const u = process.memoryUsage();
    process.send!({
      mem: { rss: u.rss, heapUsed: u.heapUsed, external: u.external, arrayBuffers: u.arrayBuffers },
      open: proxy.connections().length,
    });
  } else if (m === 'cpu') {
    const c = process.cpuUsage();
    process.send!({ cpuMs: (c.user + c.system) / 1000 });
  } else if (m === 'counters') {
    process.send!({ counters: counters.snapshot() });
  } else if (m === 'stop') {
    await proxy.close();
    process.exit(0);
  }
});
