// The option table of `type=esplora` links (an Esplora REST server as a header source). Pure data.
import type { LinkOptionSpec } from '../options.js';
import { MAX_HEADERS_PER_MESSAGE } from '../../chain/header.js';

export const ESPLORA_OPTIONS: readonly LinkOptionSpec[] = [
  {
    key: 'url',
    type: 'url',
    schemes: ['http', 'https'],
    required: true,
    example: 'https://esplora.example.org/api',
    help: 'Base URL of the Esplora API (http:// or https://).',
  },
  { key: 'ca', type: 'path', help: 'PEM certificate to trust for an https:// url (self-signed servers).' },
  { key: 'timeout', type: 'int', min: 100, max: 600_000, unit: 'ms', default: '15000', help: 'How long one request may take.' },
  { key: 'rate', type: 'int', min: 0, max: 10_000, unit: 'requests/s', default: '10', help: 'Requests per second at most (0: unlimited).' },
  { key: 'burst', type: 'int', min: 1, max: 10_000, default: '20', help: 'Requests that may go out at once before the rate applies.' },
  {
    key: 'maxheaders',
    type: 'int',
    min: 1,
    max: MAX_HEADERS_PER_MESSAGE,
    default: '500',
    help: 'Most headers delivered per request from the gateway.',
  },
  {
    key: 'headers',
    type: 'enum',
    values: ['1', '0'],
    valueHelp: { 1: 'headers, blocks and transactions', 0: 'blocks and transactions only' },
    default: '1',
    help: 'Ask this server for headers (0: use it only to fetch blocks and send transactions).',
  },
  {
    key: 'poll',
    type: 'int',
    min: 0,
    max: 86_400_000,
    unit: 'ms',
    default: '120000',
    help: 'Ask the server for new headers this often (0: only when asked).',
  },
];
