// The option table of `type=p2p` links (one Bitcoin P2P peer the operator chooses). Pure data.
import type { LinkOptionSpec } from '../options.js';

export const P2P_OPTIONS: readonly LinkOptionSpec[] = [
  {
    key: 'peer',
    type: 'hostport',
    required: true,
    example: '203.0.113.5:8333',
    help: 'The peer, host:port (an internet peer you choose; there is no built-in list).',
  },
  {
    key: 'timeout',
    type: 'int',
    min: 100,
    max: 600_000,
    unit: 'ms',
    default: '30000',
    help: 'How long the handshake and each request may take.',
  },
  {
    key: 'headers',
    type: 'enum',
    values: ['1', '0'],
    valueHelp: { 1: 'headers, blocks and transactions', 0: 'blocks and transactions only' },
    default: '1',
    help: 'Ask this peer for headers (0: use it only to fetch blocks and send transactions).',
  },
  {
    key: 'v2',
    type: 'enum',
    values: ['1', '0'],
    valueHelp: { 1: 'BIP324 encrypted, falling back to v1', 0: 'v1 only' },
    default: '1',
    help: 'Transport version.',
  },
];
