// The option table of `type=p2p` links (one Bitcoin P2P peer the operator chooses). Pure data.
import { SOURCE_ROWS, type LinkOptionSpec } from '../options.js';

/** The P2P transport version, for every link that dials Bitcoin peers (p2p, peers). */
export const V2_ROW: LinkOptionSpec = {
  key: 'v2',
  type: 'enum',
  values: ['1', '0'],
  valueHelp: { 1: 'BIP324 encrypted, falling back to v1', 0: 'v1 only' },
  default: '1',
  help: 'Transport version.',
};

export const P2P_OPTIONS: readonly LinkOptionSpec[] = [
  {
    key: 'peer',
    type: 'hostport',
    required: true,
    example: '203.0.113.5:8333',
    help: 'The peer, host:port (an internet peer you choose; there is no built-in list).',
  },
  SOURCE_ROWS.timeout(30_000, 'the handshake and each request'),
  SOURCE_ROWS.proxy(),
  SOURCE_ROWS.headers('this peer'),
  V2_ROW,
];
