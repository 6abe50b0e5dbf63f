// The option table of `type=electrum` links (an Electrum server as a header source). Pure data.
import { SOURCE_ROWS, type LinkOptionSpec } from '../options.js';

export const ELECTRUM_OPTIONS: readonly LinkOptionSpec[] = [
  { key: 'server', type: 'hostport', required: true, example: 'electrum.example.org:50002', help: 'Electrum server, host:port.' },
  { key: 'tls', type: 'bool', default: '0', help: 'Speak TLS to the server.' },
  { key: 'ca', type: 'path', help: 'PEM certificate to trust (self-signed servers; needs tls=1).' },
  {
    key: 'fingerprint',
    type: 'string',
    pattern: /^([0-9a-fA-F]{2}:?){31}[0-9a-fA-F]{2}$/,
    patternHint: 'a SHA-256 fingerprint (64 hex digits, colons allowed)',
    help: "SHA-256 fingerprint of the server's certificate to pin (needs tls=1).",
  },
  { key: 'servername', type: 'string', defaultNote: 'the host of server', help: 'TLS server name (SNI) to ask for.' },
  SOURCE_ROWS.timeout(15_000),
  { key: 'ping', type: 'int', min: 0, max: 3_600_000, unit: 'ms', default: '60000', help: 'Keep-alive ping interval (0: none).' },
  SOURCE_ROWS.maxHeaders(2016, 20_000),
  {
    key: 'scanback',
    type: 'int',
    min: 0,
    max: 1_000_000,
    unit: 'headers',
    default: '20160',
    help: 'How far below the tip to look for a common block.',
  },
  SOURCE_ROWS.proxy(),
];
