// The option tables of radio links: `type=lora` (LoRa modems) and `type=kiss` (AX.25 KISS TNCs),
// both built by radio/factory.ts from a board profile (boards/*.json). Pure data: the registry,
// `altnet help links` and config checks read it without opening a port.
import { REGIONS } from '../boards.js';
import type { LinkOptionSpec } from '../options.js';

/** Whether a radio link listens, sends or both: every radio link type has it (radio, sim, ble). */
export const DIRECTION_OPTION: LinkOptionSpec = {
  key: 'direction',
  type: 'enum',
  values: ['rx', 'tx', 'duplex'],
  default: 'duplex',
  help: 'rx: only listen; tx: only send; duplex: both. receiveonly=1 forces rx.',
};

/** Every serial/TCP radio link. */
export const RADIO_COMMON_OPTIONS: readonly LinkOptionSpec[] = [
  { key: 'board', type: 'string', example: 'rak3172', help: 'Board profile, a boards/*.json id (`altnet boards` lists them).' },
  {
    key: 'device',
    type: 'path',
    example: '/dev/altnet/ch340-usb1-1.3',
    help: 'Serial device of the modem (required for boards reached over serial).',
  },
  { key: 'baud', type: 'int', min: 300, max: 4_000_000, defaultNote: "the board's", help: 'Serial line speed.' },
  {
    key: 'tcp',
    type: 'hostport',
    example: '127.0.0.1:8001',
    help: 'Reach the modem or TNC over TCP (host:port) instead of a serial device.',
  },
  {
    key: 'dutycycle',
    type: 'number',
    min: 0.0001,
    max: 1,
    defaultNote: "the region's legal limit",
    help: 'Share of airtime to use at most; only ever below the legal limit.',
  },
  {
    key: 'burst',
    type: 'number',
    min: 0.01,
    max: 1,
    default: '0.1',
    help: "Largest share of the duty-cycle window's airtime budget one burst may use; the rest is paced evenly over the window (1: no pacing).",
  },
  {
    key: 'queue',
    type: 'int',
    min: 1,
    max: 100_000,
    defaultNote: "the transport's",
    help: 'Frames waiting for airtime before new ones are dropped.',
  },
  { key: 'attempts', type: 'int', min: 1, max: 100, defaultNote: "the transport's", help: 'Attempts per frame before it is given up.' },
  DIRECTION_OPTION,
];

export const LORA_OPTIONS: readonly LinkOptionSpec[] = [
  ...RADIO_COMMON_OPTIONS,
  {
    key: 'region',
    type: 'enum',
    values: REGIONS,
    defaultNote: "the board's",
    help: 'Regulatory region; sets frequency, duty cycle and dwell limits.',
  },
  {
    key: 'frequency',
    type: 'number',
    min: 1,
    unit: 'MHz or Hz',
    example: '869.525',
    defaultNote: "the region's on-air profile",
    help: 'Centre frequency, in MHz (868.1) or Hz (868100000).',
  },
  {
    key: 'sf',
    type: 'int',
    min: 6,
    max: 12,
    defaultNote: "the region's on-air profile",
    help: 'LoRa spreading factor. Radios of different makes hear each other only on the same profile.',
  },
  {
    key: 'bw',
    type: 'number',
    min: 1,
    unit: 'kHz or Hz',
    defaultNote: "the region's on-air profile",
    help: 'Bandwidth, in kHz (125) or Hz (125000).',
  },
  {
    key: 'cr',
    type: 'string',
    pattern: /^(?:4\/)?[5-8]$/,
    patternHint: '4/5, 4/6, 4/7 or 4/8',
    defaultNote: "the region's on-air profile",
    help: 'LoRa coding rate, 4/5 to 4/8 (or just 5 to 8).',
  },
  {
    key: 'preamble',
    type: 'int',
    min: 6,
    max: 65_535,
    unit: 'symbols',
    defaultNote: "RNode's: max(18, ceil(24 ms / symbol time))",
    help: 'Preamble length (an RNode always uses its own).',
  },
  {
    key: 'txpower',
    type: 'int',
    min: -9,
    max: 30,
    unit: 'dBm',
    defaultNote: "the board's, within the region's limit",
    help: 'Transmit power (RNode: 0..22, the firmware caps it at 17 on SX127x).',
  },
  { key: 'channel', type: 'int', min: 0, max: 7, help: 'Meshtastic boards only: channel index.' },
  { key: 'hops', type: 'int', min: 0, max: 7, help: 'Meshtastic boards only: hop limit.' },
  {
    key: 'timeout',
    type: 'int',
    min: 10,
    max: 600_000,
    unit: 'ms',
    defaultNote: "the dialect's",
    help: 'How long the modem may take to answer a command.',
  },
];

export const KISS_OPTIONS: readonly LinkOptionSpec[] = [
  ...RADIO_COMMON_OPTIONS,
  {
    key: 'callsign',
    type: 'string',
    example: 'N0CALL-7',
    help: 'Operator callsign sent as the AX.25 source; required to transmit. Defaults to the global callsign.',
  },
  { key: 'destination', type: 'string', default: 'ALTNET', help: 'AX.25 destination of the UI frames.' },
  { key: 'kissport', type: 'int', min: 0, max: 15, default: '0', help: 'KISS port (TNC channel).' },
  { key: 'txdelay', type: 'int', min: 0, max: 2550, unit: 'ms', defaultNote: "the board's", help: 'Key-up delay before data.' },
  { key: 'persist', type: 'int', min: 0, max: 255, defaultNote: "the board's", help: 'p-persistence of the channel access (0-255).' },
  { key: 'slottime', type: 'int', min: 0, max: 2550, unit: 'ms', defaultNote: "the board's", help: 'Slot time of the channel access.' },
  {
    key: 'txtail',
    type: 'int',
    min: 0,
    max: 2550,
    unit: 'ms',
    defaultNote: "the board's",
    help: 'Time the transmitter stays keyed after data.',
  },
  { key: 'fullduplex', type: 'bool', defaultNote: "the board's", help: 'Transmit without waiting for a clear channel.' },
];
