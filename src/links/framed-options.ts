// Options of the framed layer (codec, fragments, FEC) that every radio link type takes: the
// option table and its reader. Kept apart from framed.ts so the link registry, which every
// driver process loads, does not load the codec with it.
import type { FragmentVersion, Integrity } from '../codec/frames.js';
import type { Clock } from '../util/clock.js';
import { LinkOptions, type LinkOptionSpec } from './options.js';

export interface FramedLinkOptions {
  /** Frame integrity check: the link's own CRC is short or absent, so crc16 by default. */
  integrity?: Integrity;
  /** One-way FEC: repair fragments per source fragment (default 0.5). */
  repairRatio?: number;
  /** Fragment header version this link sends (codecs/frames.md 4.2; default 3); both are received. */
  fragmentVersion?: FragmentVersion;
  /** Headers answered per request (default 64). */
  maxAnswer?: number;
  /**
   * Least time between the starts of two beacon batches, ms. Default: as often as the link's
   * airtime budget allows (framed.ts defaultBeaconIntervalMs).
   */
  beaconIntervalMs?: number;
  now?: () => number;
  /** Time and timers (tests and the bench run hours of air on a virtual clock); default the system's. */
  clock?: Clock;
  /** Uniform in [0, 1): where this link's message ids start (tests; default Math.random). */
  random?: () => number;
}

/** Frame integrity check when the config says nothing: the link's own CRC is short or absent. */
export const DEFAULT_INTEGRITY: Integrity = 'crc16';
/** Repair fragments per source fragment when the config says nothing. */
export const DEFAULT_REPAIR_RATIO = 0.5;

/** Options of the framed layer itself, in every radio link type's table. */
export const FRAMED_OPTIONS: readonly LinkOptionSpec[] = [
  {
    key: 'integrity',
    type: 'enum',
    values: ['none', 'crc16', 'crc32'],
    default: DEFAULT_INTEGRITY,
    help: 'Integrity check on each frame; both ends must use the same.',
  },
  {
    key: 'repair',
    type: 'number',
    min: 0,
    max: 4,
    default: String(DEFAULT_REPAIR_RATIO),
    help: 'One-way FEC: repair fragments per source fragment of a transaction or request; each repeat of a beacon batch sends fresh repair symbols that add up across repeats.',
  },
  {
    key: 'fragments',
    type: 'enum',
    values: ['3', '2'],
    default: '3',
    help: 'Fragment header version this link sends: 3 (compact, a byte less in most frames) or 2 while receivers on its channel still run a release before version 3; both are always received.',
  },
  {
    key: 'beaconinterval',
    type: 'number',
    min: 0,
    max: 86_400,
    unit: 's',
    defaultNote: "one batch's airtime: as often as the duty-cycle limiter's airtime budget allows",
    help: 'Beacon mode: least time between the starts of two header batches on this link (new tips go at once, whatever this says).',
  },
];

/** Takes the framed layer's options out of a radio link's options; the transport gets the rest. */
export function framedLinkOptions(
  name: string,
  options: Record<string, string>,
): { framed: FramedLinkOptions; rest: Record<string, string> } {
  const { integrity, repair, fragments, beaconinterval, ...rest } = options;
  const o = new LinkOptions(name, 'framed', FRAMED_OPTIONS, {
    ...(integrity !== undefined && { integrity }),
    ...(repair !== undefined && { repair }),
    ...(fragments !== undefined && { fragments }),
    ...(beaconinterval !== undefined && { beaconinterval }),
  });
  const every = o.number('beaconinterval');
  return {
    framed: {
      integrity: o.must<Integrity>('integrity'),
      repairRatio: o.must<number>('repair'),
      fragmentVersion: Number(o.must<string>('fragments')) as FragmentVersion,
      ...(every !== undefined && { beaconIntervalMs: every * 1000 }),
    },
    rest,
  };
}
