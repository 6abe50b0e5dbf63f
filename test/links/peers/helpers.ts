// Setup shared by the peers link tests: a peers link on a recording context (regtest unless
// said), from typed options or from `link.<name>.*` config strings, stopped after the test.
import { NETWORKS, type NetworkParams } from '../../../src/chain/networks.js';
import type { Link } from '../../../src/links/link.js';
import { create, PeersLink, type PeersLinkOptions } from '../../../src/links/peers/peers.js';
import { recordingContext, type Recorded } from '../../servers/context.js';

/** lifecycle().track: stops the link after the test. */
type Track = <L extends Link>(link: L) => L;

/** A host:port option (DNS server, proxy) on loopback. */
export const loopback = (port: number) => ({ host: '127.0.0.1', port });

/** A PeersLink from typed options: BIP324 first and a 5 s timeout unless said. */
export function peersLink(
  track: Track,
  opts: Omit<PeersLinkOptions, 'timeoutMs' | 'v2'> & Partial<Pick<PeersLinkOptions, 'timeoutMs' | 'v2'>>,
  network: NetworkParams = NETWORKS.regtest,
): { link: PeersLink; rec: Recorded } {
  const rec = recordingContext(network);
  const link = track(new PeersLink({ timeoutMs: 5000, v2: true, ...opts }, rec.ctx));
  return { link, rec };
}

/** A PeersLink through the config factory, as `altnet run` makes it. */
export function configuredPeersLink(
  track: Track,
  options: Record<string, string>,
  network: NetworkParams = NETWORKS.regtest,
): { link: PeersLink; rec: Recorded } {
  const rec = recordingContext(network);
  const link = track(create(options, rec.ctx) as PeersLink);
  return { link, rec };
}
