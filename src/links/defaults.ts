// The default internet sources per network: the one table of public endpoints altnet uses when
// the config names no links (or adds to the user's links with defaults=1). Pure data plus a pure
// chooser; nothing here opens a connection. Each row says what it reaches and what the operator
// of that endpoint learns about the user, for `altnet run --check` and the README.
//
// Endpoints: blockstream.info and mempool.space run the two best-known public Esplora instances
// (their onion addresses are the ones both operators publish, also used by eclair's watchdog and
// CypherpunkPay); bitcoinheaders.net serves mainnet headers over DNS (AAAA records). The
// random peers come from Bitcoin Core's own DNS seeds and fixed seeds (./peers/options.ts).
import type { NetworkName } from '../chain/networks.js';
import { DNS_SEEDS } from './peers/options.js';

export interface DefaultLink {
  /** The link name (`link.<name>.*`); a user's link of the same name wins. */
  name: string;
  type: string;
  /** Options without a proxy. */
  options: Record<string, string>;
  /**
   * Options with a SOCKS5 proxy (Tor): the onion endpoint, so not even an exit relay sees the
   * request. Undefined: the link is left out under a proxy (`proxyRefused` says why).
   */
  viaProxy?: Record<string, string>;
  /** Why the link cannot run through a proxy (DNS: the lookup would go to the local resolver). */
  proxyRefused?: string;
  /** Who is contacted, in words. */
  reaches: string;
  /** The same through a proxy. */
  reachesViaProxy?: string;
  /** What that party learns about the user. */
  learns: string;
  /** The same through a proxy, when it differs. */
  learnsViaProxy?: string;
}

const ESPLORA_LEARNS =
  'your IP address (or, through Tor, only that someone polls), that you run a Bitcoin node with altnet, and when you poll (every 2 minutes by default); it sees which blocks you fetch during a rescue and any transaction you send through it, but no wallet address';
const DNS_LEARNS =
  'your resolver learns that this machine looks up bitcoinheaders.net names (so that you follow Bitcoin headers) and when; the zone operator sees only your resolver, not your IP address, unless you point server= at it directly';

const PEERS_LEARNS =
  "each peer learns your IP address, that you run a Bitcoin node with altnet (its version message says /altnet:.../ and asks for no transactions), which headers and blocks you fetch, and any transaction you send through it; the DNS seeds' operators see your resolver (not your IP address) look up their names at start-up; no wallet address";

const PEERS_LEARNS_VIA_PROXY =
  "each peer learns that someone behind Tor (it sees the exit relay's address, or nothing at all for an onion peer) runs a Bitcoin node with altnet, which headers and blocks you fetch, and any transaction you send through it; no DNS lookup is made on this machine, the seed nodes asked through the proxy see only the Tor exit; no wallet address";

/** Random P2P peers: the first default, the founding idea ("try some random node, in the hopes it is not eclipsed"). */
function peers(network: NetworkName): DefaultLink {
  return {
    name: 'peers',
    type: 'peers',
    options: { type: 'peers' },
    viaProxy: { type: 'peers' },
    reachesViaProxy: `3 random Bitcoin nodes at a time through the proxy, onion nodes among them; no name is looked up here: seed nodes (${DNS_SEEDS[network][0]}, ...) are asked for addresses through the proxy (not with onlynet=onion: then onion peers only), then Bitcoin Core's fixed seeds`,
    learnsViaProxy: PEERS_LEARNS_VIA_PROXY,
    reaches: `3 random Bitcoin nodes at a time from distinct netgroups (BIP324 encrypted when they offer it), found through Bitcoin Core's DNS seeds (${DNS_SEEDS[network].join(', ')}) and the addresses peers share; the address book is kept in the datadir`,
    learns: PEERS_LEARNS,
  };
}

const BLOCKSTREAM_ONION = 'http://explorerzydxu5ecjrkwceayqybizmpjjznk5izmitf2modhcusuqlid.onion';
const MEMPOOL_ONION = 'http://mempoolhqx4isw62xs7abwphsq7ldayuidyx2v2oethdhhj6mlo2r6ad.onion';

function esplora(name: string, url: string, onion: string, operator: string): DefaultLink {
  return {
    name,
    type: 'esplora',
    options: { type: 'esplora', url },
    viaProxy: { type: 'esplora', url: onion },
    reaches: `${operator}'s public Esplora server (${new URL(url).host})`,
    reachesViaProxy: `${operator}'s Esplora onion service (${new URL(onion).host}), through the proxy`,
    learns: ESPLORA_LEARNS,
  };
}

export const DEFAULT_LINKS: Readonly<Record<NetworkName, readonly DefaultLink[]>> = {
  main: [
    peers('main'),
    esplora('blockstream', 'https://blockstream.info/api', `${BLOCKSTREAM_ONION}/api`, 'Blockstream'),
    esplora('mempool', 'https://mempool.space/api', `${MEMPOOL_ONION}/api`, 'mempool.space'),
    {
      name: 'dnsheaders',
      type: 'dns',
      options: { type: 'dns', domain: 'bitcoinheaders.net' },
      proxyRefused: 'headers over DNS would ask the local resolver, outside the proxy, and leak that you follow Bitcoin',
      reaches: "bitcoinheaders.net's DNS zone, through this machine's resolvers",
      learns: DNS_LEARNS,
    },
  ],
  testnet4: [peers('testnet4'), esplora('mempool', 'https://mempool.space/testnet4/api', `${MEMPOOL_ONION}/testnet4/api`, 'mempool.space')],
  signet: [
    peers('signet'),
    esplora('blockstream', 'https://blockstream.info/signet/api', `${BLOCKSTREAM_ONION}/signet/api`, 'Blockstream'),
    esplora('mempool', 'https://mempool.space/signet/api', `${MEMPOOL_ONION}/signet/api`, 'mempool.space'),
  ],
  // A private chain: there is nothing public to ask.
  regtest: [],
};

export interface ChosenDefault {
  name: string;
  options: Record<string, string>;
  /** Who it reaches (onion service under a proxy) and what they learn. */
  about: { reaches: string; learns: string };
}

export interface DefaultChoice {
  links: ChosenDefault[];
  /** Defaults not used, with why (a proxy, a user's link of the same name). */
  skipped: { name: string; why: string }[];
  /** One line for the log and `--check`: what was added and why, or why nothing was. */
  note: string;
}

/**
 * The default links for `network`: onion endpoints when `proxy` is set, DNS left out under a
 * proxy, a name the user already took left out. `reason` is how they came to be used.
 */
export function chooseDefaultLinks(
  network: NetworkName,
  opts: {
    proxy: boolean;
    taken: ReadonlySet<string>;
    reason: 'no-links' | 'defaults=1';
    /**
     * The server a link's options reach (registry.ts linkServer) and the servers the user's own
     * links already ask, by link name: a default that would ask one of them again is left out
     * (twice the load on that server, and no second opinion).
     */
    serverOf?: (type: string, options: Record<string, string>) => string | undefined;
    servers?: ReadonlyMap<string, string>;
  },
): DefaultChoice {
  const links: ChosenDefault[] = [];
  const skipped: DefaultChoice['skipped'] = [];
  for (const entry of DEFAULT_LINKS[network]) {
    if (opts.taken.has(entry.name)) {
      skipped.push({ name: entry.name, why: `a configured link is already named ${entry.name}` });
      continue;
    }
    if (opts.proxy && !entry.viaProxy) {
      skipped.push({ name: entry.name, why: entry.proxyRefused ?? 'cannot run through the proxy' });
      continue;
    }
    const server = opts.serverOf?.(entry.type, opts.proxy ? entry.viaProxy! : entry.options);
    const already = server !== undefined ? opts.servers?.get(server) : undefined;
    if (already !== undefined) {
      skipped.push({ name: entry.name, why: `the configured link ${already} already asks ${server}` });
      continue;
    }
    const reaches = opts.proxy ? (entry.reachesViaProxy ?? entry.reaches) : entry.reaches;
    const learns = opts.proxy ? (entry.learnsViaProxy ?? entry.learns) : entry.learns;
    links.push({
      name: entry.name,
      options: { ...(opts.proxy ? entry.viaProxy! : entry.options) },
      about: { reaches, learns },
    });
  }
  const why = opts.reason === 'no-links' ? 'no links configured' : 'defaults=1';
  const note =
    DEFAULT_LINKS[network].length === 0
      ? `${why}: network ${network} has no public default sources, so altnet runs no internet links; add link.<name>.* lines (see \`altnet help links\`)`
      : links.length === 0
        ? `${why}: no default source for ${network} could be used (${skipped.map((s) => `${s.name}: ${s.why}`).join('; ')})`
        : `${why}: using the built-in default sources for ${network}${opts.proxy ? ' through the proxy (onion endpoints)' : ''}: ${links
            .map((l) => l.name)
            .join(
              ', ',
            )}${skipped.length ? ` (left out: ${skipped.map((s) => `${s.name}: ${s.why}`).join('; ')})` : ''}; defaults=0 turns them off`;
  return { links, skipped, note };
}
