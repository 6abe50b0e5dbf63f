// The option table of `type=dns` links (headers over DNS, bitcoinheaders.net style). Pure data.
import type { LinkOptionSpec } from '../options.js';

export const DNS_OPTIONS: readonly LinkOptionSpec[] = [
  { key: 'domain', type: 'string', required: true, example: 'bitcoinheaders.net', help: 'Zone that serves headers as AAAA records.' },
  { key: 'server', type: 'hostport', defaultNote: "the system's resolvers", help: 'Resolver to ask, IP:port.' },
  {
    key: 'format',
    type: 'enum',
    values: ['v2', 'v0'],
    valueHelp: { v2: 'current', v0: 'older' },
    default: 'v2',
    help: 'Record format of the zone.',
  },
  { key: 'timeout', type: 'int', min: 100, max: 600_000, unit: 'ms', default: '5000', help: 'How long one query may take.' },
  { key: 'concurrency', type: 'int', min: 1, max: 64, default: '8', help: 'Queries in flight at once.' },
  { key: 'rate', type: 'int', min: 0, max: 10_000, unit: 'queries/s', default: '20', help: 'Queries per second at most (0: unlimited).' },
  { key: 'burst', type: 'int', min: 1, max: 10_000, default: '40', help: 'Queries that may go out at once before the rate applies.' },
  { key: 'maxheaders', type: 'int', min: 1, max: 5_000, default: '200', help: 'Most headers delivered per request from the gateway.' },
  {
    key: 'poll',
    type: 'int',
    min: 0,
    max: 86_400_000,
    unit: 'ms',
    default: '120000',
    help: 'Ask for new headers this often (0: only when asked).',
  },
];
