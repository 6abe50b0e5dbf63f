// Two or more KISS TNCs sharing one radio channel, as a TCP server: every byte a client sends
// (a KISS data frame for the air) reaches every other client (frames heard off the air). Dire
// Wolf's KISS TCP port speaks exactly this stream (Dire Wolf User Guide, "KISS TCP": frames
// FEND-delimited per the KISS spec, KA9Q/K3MC 1987), so each client is unaware it is not
// talking to a real TNC. Forwarding raw chunks is enough with a single transmitting client;
// `stop()` drops every connection and stops listening (the TNCs are switched off), `start()`
// on the same port switches them on again. Imports nothing from src/.
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export class KissHub {
  private server: Server | undefined;
  private readonly clients = new Set<Socket>();
  port = 0;
  framesForwarded = 0;

  async start(port = 0): Promise<number> {
    const server = createServer((sock) => {
      this.clients.add(sock);
      sock.on('data', (chunk) => {
        for (const other of this.clients) if (other !== sock && !other.destroyed) other.write(chunk);
        for (const b of chunk) if (b === 0xc0) this.framesForwarded++;
      });
      sock.on('error', () => {});
      sock.on('close', () => this.clients.delete(sock));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return this.port;
  }

  get connections(): number {
    return this.clients.size;
  }

  async stop(): Promise<void> {
    for (const c of this.clients) c.destroy();
    this.clients.clear();
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}
