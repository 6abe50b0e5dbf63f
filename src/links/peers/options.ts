// The option table of `type=peers` links (random Bitcoin P2P peers found through DNS seeds). Pure data.
import { SOURCE_ROWS, type LinkOptionSpec } from '../options.js';
import { V2_ROW } from '../p2p/options.js';

export const PEERS_OPTIONS: readonly LinkOptionSpec[] = [
  {
    key: 'connections',
    type: 'int',
    min: 1,
    max: 8,
    default: '3',
    help: 'Peers connected at a time, each from a different netgroup (/16 IPv4, /32 IPv6).',
  },
  {
    key: 'seeds',
    type: 'string',
    defaultNote: "the network's DNS seeds (as in Bitcoin Core)",
    example: 'seed.example.test,seed2.example.test',
    pattern: /^[A-Za-z0-9_.-]+(,[A-Za-z0-9_.-]+)*$/,
    patternHint: 'comma-separated host names',
    help: "DNS seeds to ask for peer addresses (A and AAAA records), comma-separated; when they give nothing, Bitcoin Core's fixed seeds for the network (links/peers/fixed-seeds.ts).",
  },
  {
    key: 'dnsserver',
    type: 'hostport',
    example: '127.0.0.1:53',
    help: "The DNS resolver to ask the seeds through, ip:port (default: the system's).",
  },
  {
    key: 'port',
    type: 'int',
    min: 1,
    max: 65535,
    defaultNote: "the network's P2P port",
    help: 'Port of the peers the seeds name (seeds hand out addresses only).',
  },
  {
    key: 'book',
    type: 'path',
    example: '/var/lib/altnet/peers.json',
    defaultNote: 'peers-<network>-<link name>.json in the datadir (altnet run)',
    help: 'Address book file (known and banned peers, at most 1000, written atomically); without a datadir it is kept in memory only.',
  },
  {
    key: 'rotate',
    type: 'int',
    min: 0,
    max: 604_800,
    unit: 's',
    default: '3600',
    help: 'Every this often the longest-connected peer is swapped for another, so no set of peers keeps the link for good; 0: never.',
  },
  SOURCE_ROWS.timeout(30_000, 'each handshake and request'),
  SOURCE_ROWS.proxy(),
  {
    key: 'onlynet',
    type: 'enum',
    values: ['any', 'onion'],
    valueHelp: { any: 'IPv4, IPv6, and onion through a proxy', onion: 'only .onion peers, through the proxy' },
    default: 'any',
    defaultNote: 'the global onlynet=',
    help: 'Which peers to use; onion needs proxy= (Tor). Under a proxy no DNS seed is looked up here: seed nodes are asked through the proxy, then the fixed seeds.',
  },
  V2_ROW,
];

/**
 * DNS seeds per network, as in Bitcoin Core's src/kernel/chainparams.cpp (vSeeds, v28–v30).
 * Listed and checked for form by tests, never contacted by them.
 */
export const DNS_SEEDS: Readonly<Record<string, readonly string[]>> = {
  main: [
    'seed.bitcoin.sipa.be',
    'dnsseed.bluematt.me',
    'seed.bitcoin.jonasschnelli.ch',
    'seed.btc.petertodd.net',
    'seed.bitcoin.sprovoost.nl',
    'dnsseed.emzy.de',
    'seed.bitcoin.wiz.biz',
    'seed.mainnet.achownodes.xyz',
  ],
  testnet4: ['seed.testnet4.bitcoin.sprovoost.nl', 'seed.testnet4.wiz.biz'],
  signet: ['seed.signet.bitcoin.sprovoost.nl', 'seed.signet.achownodes.xyz'],
  regtest: [],
};
