// The option table of `type=sim` links: a LoRa-like radio on the simulated air (air.ts), for
// the demo and tests. Pure data.
import type { LinkOptionSpec } from '../options.js';
import { DIRECTION_OPTION } from '../radio/options.js';

export const SIM_OPTIONS: readonly LinkOptionSpec[] = [
  {
    key: 'air',
    type: 'hostport',
    required: true,
    example: '127.0.0.1:7700',
    help: 'UDP address of the simulated air (`altnet demo` starts one).',
  },
  { key: 'sf', type: 'int', min: 7, max: 12, default: '12', help: 'LoRa spreading factor (sets airtime and the largest payload).' },
  { key: 'bw', type: 'int', min: 125, max: 500, unit: 'kHz', default: '125', help: 'Bandwidth.' },
  { key: 'cr', type: 'int', min: 5, max: 8, default: '5', help: 'Coding rate 4/cr.' },
  { key: 'dutycycle', type: 'number', min: 1e-9, max: 1, default: '0.01', help: 'Share of airtime to use at most, in (0, 1].' },
  DIRECTION_OPTION,
  {
    key: 'mtu',
    type: 'int',
    min: 20,
    max: 255,
    unit: 'bytes',
    defaultNote:
      "the LoRa boards' EU868 frame limit for the spreading factor (115 bytes at SF9-12), shortened to fit one hour's duty-cycle budget",
    help: 'Largest frame payload.',
  },
  {
    key: 'timescale',
    type: 'number',
    min: 1,
    max: 10_000,
    default: '1',
    help: "Run this link's airtime, duty-cycle limiter and beacon timers this many times faster than real time (the demo's --timescale); the air must run at the same scale.",
  },
  { key: 'callsign', type: 'string', help: 'Accepted and ignored (the simulated air is not amateur radio); lets a global callsign apply.' },
];
