// The option table of `type=esplora` links (an Esplora REST server as a header source). Pure data.
import { SOURCE_ROWS, type LinkOptionSpec } from '../options.js';
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
  SOURCE_ROWS.timeout(15_000),
  // A poll is about 5 requests (tip height, hash, header; the locator's hash), plus 2 per new
  // header: 60 a minute leaves a public server's normal load per user near 3 a minute.
  SOURCE_ROWS.rate(60, 'requests'),
  SOURCE_ROWS.burst(20, 'requests'),
  SOURCE_ROWS.maxHeaders(500, MAX_HEADERS_PER_MESSAGE),
  SOURCE_ROWS.headers('this server'),
  SOURCE_ROWS.poll('the server'),
  SOURCE_ROWS.blockDelay('the server'),
  SOURCE_ROWS.proxy(),
];
