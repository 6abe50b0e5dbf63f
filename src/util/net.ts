// Addresses: the one `host:port` parser (config options and link options alike; only the form,
// never whether the host exists), and the loopback check shared by every listener (the node port
// and the metrics endpoint are for this machine only unless the user says otherwise). Pure.

export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const m = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h) ?? /^::ffff:127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h);
  return m !== null && m.slice(1).every((x) => Number(x) <= 255);
}

export interface HostPort {
  host: string;
  port: number;
}

/**
 * `host:port`, `[v6]:port`, or a bare port meaning 127.0.0.1. Throws an Error whose message says
 * what form is expected; callers add which option it was.
 */
export function parseHostPort(text: string): HostPort {
  const v = text.trim();
  let host: string;
  let portText: string;
  if (/^\d+$/.test(v)) {
    host = '127.0.0.1';
    portText = v;
  } else if (v.startsWith('[')) {
    const m = /^\[([0-9A-Fa-f:.]+)\]:(\d+)$/.exec(v);
    if (!m) throw new Error('expected host:port, e.g. 127.0.0.1:8334 or [::1]:8334');
    [host, portText] = [m[1], m[2]];
  } else {
    const m = /^([A-Za-z0-9._-]+):(\d+)$/.exec(v);
    if (!m) throw new Error('expected host:port, e.g. 127.0.0.1:8334 (IPv6 in brackets: [::1]:8334)');
    [host, portText] = [m[1], m[2]];
  }
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error('port must be 1-65535');
  return { host, port };
}

/** The inverse of parseHostPort: IPv6 hosts get their brackets back. */
export function formatHostPort(hp: HostPort): string {
  return hp.host.includes(':') ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}
