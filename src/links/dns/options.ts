// The option table of `type=dns` links (headers over DNS, bitcoinheaders.net style). Pure data.
import { SOURCE_ROWS, type LinkOptionSpec } from '../options.js';

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
  SOURCE_ROWS.timeout(5_000, 'one query'),
  { key: 'concurrency', type: 'int', min: 1, max: 64, default: '8', help: 'Queries in flight at once.' },
  SOURCE_ROWS.rate(600, 'queries'),
  SOURCE_ROWS.burst(40, 'queries'),
  SOURCE_ROWS.maxHeaders(200, 5_000),
  SOURCE_ROWS.poll('the zone'),
  SOURCE_ROWS.blockDelay('the zone'),
];
