// The option table of `type=ble` links (BLE KISS TNCs and Nordic UART boards) and the defaults
// the transport uses. Pure data: the registry, `altnet help links` and config checks read it
// without loading the BLE stack.
import { REGIONS } from '../boards.js';
import type { LinkOptionSpec } from '../options.js';
import { DIRECTION_OPTION } from '../radio/options.js';

export const BLE_DEFAULTS = {
  attMtu: 247,
  adapterTimeoutMs: 10_000,
  scanTimeoutMs: 30_000,
  connectTimeoutMs: 15_000,
  writeTimeoutMs: 5_000,
  reconnectMinMs: 500,
  reconnectMaxMs: 60_000,
  maxQueuedFrames: 64,
  maxSendAttempts: 3,
} as const;

const ms = (key: string, help: string, dflt: number, max: number): LinkOptionSpec => ({
  key,
  type: 'int',
  min: 1,
  max,
  unit: 'ms',
  default: String(dflt),
  help,
});

export const BLE_OPTIONS: readonly LinkOptionSpec[] = [
  {
    key: 'service',
    type: 'enum',
    values: ['kiss', 'nus', 'meshtastic'],
    valueHelp: { kiss: 'BLE KISS TNC', nus: 'Nordic UART Service', meshtastic: 'Meshtastic node' },
    required: true,
    help: 'Which GATT service the peripheral offers: kiss (BLE KISS TNC, e.g. Mobilinkd TNC3/TNC4), nus (Nordic UART Service) or meshtastic (a Meshtastic node).',
  },
  {
    key: 'region',
    type: 'enum',
    values: REGIONS,
    defaultNote: "the board's first",
    help: 'Meshtastic only: the regulatory region, for the duty cycle altnet enforces.',
  },
  {
    key: 'name',
    type: 'string',
    example: 'TNC4',
    help: 'Advertised local name of the peripheral (exact, 1 to 29 bytes); give name, address or both.',
  },
  { key: 'address', type: 'string', example: 'aa:bb:cc:dd:ee:ff', help: 'Device address of the peripheral (six hex bytes).' },
  {
    key: 'board',
    type: 'string',
    defaultNote: 'mobilinkd for service=kiss, nordic-uart for service=nus, meshtastic for service=meshtastic',
    help: 'Board profile (boards/*.json id) for MTU, bit rate and whether it is an amateur TNC.',
  },
  {
    key: 'mtu',
    type: 'int',
    min: 1,
    max: 65_530,
    unit: 'bytes',
    defaultNote: "the board's largest radio payload",
    help: 'Largest frame payload.',
  },
  {
    key: 'hci',
    type: 'string',
    default: 'default',
    patternHint: 'default, hciN (Linux controller number) or uart:/dev/ttyX[@baud]',
    help: 'Which Bluetooth controller: default, hciN, or an HCI UART uart:/dev/ttyX[@baud].',
  },
  {
    key: 'att_mtu',
    type: 'int',
    min: 23,
    max: 517,
    unit: 'bytes',
    default: String(BLE_DEFAULTS.attMtu),
    help: 'ATT MTU to ask the peripheral for.',
  },
  ms('scan_timeout_ms', 'How long to scan for the peripheral before trying again.', BLE_DEFAULTS.scanTimeoutMs, 3_600_000),
  ms('connect_timeout_ms', 'How long a connection attempt may take.', BLE_DEFAULTS.connectTimeoutMs, 600_000),
  ms('write_timeout_ms', 'How long one GATT write may take.', BLE_DEFAULTS.writeTimeoutMs, 600_000),
  ms('adapter_timeout_ms', 'How long to wait for the Bluetooth adapter to power on.', BLE_DEFAULTS.adapterTimeoutMs, 600_000),
  ms('reconnect_min_ms', 'First wait before reconnecting after a loss.', BLE_DEFAULTS.reconnectMinMs, 3_600_000),
  ms(
    'reconnect_max_ms',
    'Longest wait between reconnects (backoff cap); at least reconnect_min_ms.',
    BLE_DEFAULTS.reconnectMaxMs,
    86_400_000,
  ),
  {
    key: 'queue_frames',
    type: 'int',
    min: 1,
    max: 10_000,
    default: String(BLE_DEFAULTS.maxQueuedFrames),
    help: 'Frames waiting to be sent before new ones are dropped.',
  },
  {
    key: 'callsign',
    type: 'string',
    example: 'N0CALL-7',
    help: 'Operator callsign (amateur TNCs only; required there to transmit, not to listen with direction=rx). Defaults to the global callsign.',
  },
  DIRECTION_OPTION,
  { key: 'destination', type: 'string', default: 'ALTNET', help: 'AX.25 destination of the UI frames (amateur TNCs only).' },
];
