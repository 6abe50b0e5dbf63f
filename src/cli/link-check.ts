// Start-up checks of the configured links, before anything is opened: every `link.<name>.<key>`
// against its type's option table (src/links/registry.ts), the board against the board
// profiles, and whether an amateur link that would transmit has a callsign. Each problem points
// at the file and line (or command-line position) that set the key, with a did-you-mean where
// the table has one. Devices that are not there are warnings, not errors: radios come and go.
// I/O only through the injected deps (board profiles, device existence), so tests can run it.
import { linkDestinationHost, linkTypeEntry, linkTypeTakes, validateLinkOptions } from '../links/registry.js';
import { join } from 'node:path';
import { formatHostPort } from '../util/net.js';
import type { BoardProfile } from '../links/boards.js';
import { closest } from '../util/suggest.js';
import type { GatewayMode } from '../gateway/router.js';
import { ConfigLineError, type Config, type LinkConfig, type ValueSource } from './config.js';

export interface LinkCheckDeps {
  profiles: () => readonly BoardProfile[];
  exists: (path: string) => boolean;
}

/** One link as the daemon would run it. */
export interface ResolvedLink {
  name: string;
  type: string;
  /** The options the driver gets: the file's, plus the callsign and direction the daemon fills in. */
  options: Record<string, string>;
  direction: 'rx' | 'tx' | 'duplex';
  /** Where the device is, when the link has one, and whether it is there now. */
  device?: { path: string; present: boolean; hotplug: boolean };
  source: ValueSource;
}

export interface LinkCheckResult {
  errors: ConfigLineError[];
  warnings: string[];
  links: ResolvedLink[];
}

/** Where a link's key was set; a missing key points at the link's `type` line. */
function where(link: LinkConfig, key: string): ValueSource {
  return link.sources[key] ?? link.sources.type ?? { file: 'config', line: 0 };
}

function lineError(code: string, at: ValueSource, problem: string): ConfigLineError {
  return new ConfigLineError(code, at.file, at.line, problem);
}

/** Every problem with every link; an empty `errors` means the daemon may start. */
export function checkLinks(config: Config, mode: GatewayMode, deps: LinkCheckDeps): LinkCheckResult {
  const errors: ConfigLineError[] = [];
  const warnings: string[] = [];
  const links: ResolvedLink[] = [];
  let profiles: readonly BoardProfile[] | undefined;
  const boards = () => (profiles ??= deps.profiles());

  for (const link of config.linkConfigs) {
    const { name, type } = link;
    const options = effectiveOptions(link.keys, config, mode, name);
    for (const p of validateLinkOptions(name, link.keys, type)) errors.push(lineError(p.code, where(link, p.key), p.message));
    const entry = linkTypeEntry(type);
    if (!entry) continue;

    // The board, for radio types that name one: a known profile that speaks this type's dialect.
    const board = link.keys.board;
    if (board !== undefined && linkTypeTakes(type, 'board')) {
      const profile = boards().find((b) => b.id === board);
      if (!profile) {
        const near = closest(
          board,
          boards().map((b) => b.id),
        );
        errors.push(
          lineError(
            'board-unknown',
            where(link, 'board'),
            `link.${name}.board=${board}: unknown board${near ? ` (did you mean ${near}?)` : ''}; known boards: ${boards()
              .map((b) => b.id)
              .join(', ')}`,
          ),
        );
      } else if (type === 'kiss' && profile.dialect !== 'kiss') {
        errors.push(
          lineError(
            'board-dialect-mismatch',
            where(link, 'board'),
            `link.${name}.board=${board}: speaks ${profile.dialect}, not KISS/AX.25; use type=lora`,
          ),
        );
      } else if (type === 'lora' && profile.dialect === 'kiss') {
        errors.push(
          lineError(
            'board-dialect-mismatch',
            where(link, 'board'),
            `link.${name}.board=${board}: an AX.25 KISS TNC; use type=kiss (amateur radio, with callsign=)`,
          ),
        );
      }
    }

    // A SOCKS5 proxy (Tor): links that would reach the network around it are refused, and with
    // onlynet=onion only .onion destinations through it are allowed.
    if (config.proxy && entry.proxyLeak) {
      errors.push(
        lineError(
          'link-leaks-around-proxy',
          where(link, 'type'),
          `link.${name} (type=${type}) cannot run with proxy=${formatHostPort(config.proxy)}: ${entry.proxyLeak}`,
        ),
      );
    }
    // Types with their own onlynet (peers) pick only onion peers; they need the proxy all the same.
    const ownOnlynet = linkTypeTakes(type, 'onlynet');
    if (config.onlynet === 'onion' && (entry.destinationKey || entry.proxyLeak || ownOnlynet)) {
      const host = linkDestinationHost(type, options);
      if (!config.proxy) {
        errors.push(
          lineError(
            'onlynet-needs-proxy',
            where(link, 'type'),
            `link.${name}: onlynet=onion needs proxy= (Tor's SOCKS5 port, e.g. proxy=127.0.0.1:9050)`,
          ),
        );
      } else if ((entry.destinationKey || ownOnlynet) && (!options.proxy || options.proxy === 'off')) {
        errors.push(
          lineError(
            'onlynet-direct',
            where(link, 'proxy'),
            `link.${name}.proxy=off: onlynet=onion allows no direct connection; remove link.${name}.proxy`,
          ),
        );
      } else if (entry.destinationKey && !host?.toLowerCase().endsWith('.onion')) {
        errors.push(
          lineError(
            'onlynet-not-onion',
            where(link, entry.destinationKey),
            `link.${name}.${entry.destinationKey}: ${host ?? '?'} is not a .onion address, and onlynet=onion allows only those`,
          ),
        );
      }
    }

    // Amateur radio: transmitting needs a callsign; listening does not.
    const direction = (options.direction as ResolvedLink['direction'] | undefined) ?? (entry.canTransmit ? 'duplex' : 'rx');
    if (entry.needsCallsign === 'always' && direction !== 'rx' && !options.callsign) {
      errors.push(
        lineError(
          'callsign-required',
          where(link, 'type'),
          `link.${name} (type=${type}) would transmit on amateur radio but has no callsign: set callsign=YOURCALL (top level) or link.${name}.callsign=, ` +
            `or make it receive-only (link.${name}.direction=rx, or run with --receive-only), which needs no callsign`,
        ),
      );
    }

    let device: ResolvedLink['device'];
    if (options.device) {
      const hotplug = options.device.startsWith(config.devicedir.replace(/\/$/, '') + '/');
      const present = deps.exists(options.device);
      device = { path: options.device, present, hotplug };
      if (!present) {
        warnings.push(
          hotplug
            ? `link ${name}: ${options.device} is not there yet; the link opens when the radio is plugged in (\`altnet boards\` lists what is plugged in and its /dev/altnet name)`
            : `link ${name}: device ${options.device} does not exist; plug the radio in, check the path with \`altnet boards\`, or use its /dev/altnet/… name so the link opens whenever it is plugged in`,
        );
      }
    }
    links.push({ name, type, options, direction, device, source: where(link, 'type') });
  }
  return { errors, warnings, links };
}

/**
 * A link's options with the global settings that apply to it filled in: the SOCKS5 proxy= for
 * internet links that take one (unless the link says proxy=off), the operator's callsign
 * for types that take one (amateur radio), and direction=rx on receive-only gateways for types
 * that have a direction, so not even a header request goes on the air; and for types with an
 * address book (`peers`), `book=` in the datadir, one file per network and link, and the
 * global onlynet=onion as their own `onlynet`.
 */
export function effectiveOptions(
  keys: Record<string, string>,
  config: Pick<Config, 'callsign' | 'proxy'> & Partial<Pick<Config, 'datadir' | 'network' | 'onlynet'>>,
  mode: GatewayMode,
  name?: string,
): Record<string, string> {
  const out = { ...keys };
  if (config.datadir && name && out.book === undefined && linkTypeTakes(out.type, 'book')) {
    out.book = join(config.datadir, `peers-${config.network ?? 'main'}-${name}.json`);
  }
  if (config.proxy && out.proxy === undefined && linkTypeTakes(out.type, 'proxy')) out.proxy = formatHostPort(config.proxy);
  if (config.onlynet === 'onion' && out.onlynet === undefined && linkTypeTakes(out.type, 'onlynet')) out.onlynet = 'onion';
  if (config.callsign && !out.callsign && linkTypeTakes(out.type, 'callsign')) out.callsign = config.callsign;
  if (mode === 'receive-only' && linkTypeTakes(out.type, 'direction')) out.direction = 'rx';
  return out;
}
