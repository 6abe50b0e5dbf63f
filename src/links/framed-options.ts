// Options of the framed layer (codec, fragments, FEC) that every radio link type takes: the
// option table and its reader. Kept apart from framed.ts so the link registry, which every
// driver process loads, does not load the codec with it.
import type { Integrity } from '../codec/frames.js';
import { LinkOptions, type LinkOptionSpec } from './options.js';

export interface FramedLinkOptions {
  /** Frame integrity check: the link's own CRC is short or absent, so crc16 by default. */
  integrity?: Integrity;
  /** One-way FEC: repair fragments per source fragment (default 0.5). */
  repairRatio?: number;
  /** Headers answered per request (default 64). */
  maxAnswer?: number;
  now?: () => number;
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
    help: 'One-way FEC: repair fragments per source fragment.',
  },
];

/** Takes the framed layer's options out of a radio link's options; the transport gets the rest. */
export function framedLinkOptions(
  name: string,
  options: Record<string, string>,
): { framed: FramedLinkOptions; rest: Record<string, string> } {
  const { integrity, repair, ...rest } = options;
  const o = new LinkOptions(name, 'framed', FRAMED_OPTIONS, {
    ...(integrity !== undefined && { integrity }),
    ...(repair !== undefined && { repair }),
  });
  return { framed: { integrity: o.must<Integrity>('integrity'), repairRatio: o.must<number>('repair') }, rest };
}
