// `altnet probe`: open a radio the way a link would, ask it about itself (firmware, the settings
// it reports back), and say how many headers per hour its airtime budget allows, as
// `rnodeconf --info` and `meshtastic --info` do for their devices. The airtime comes from the
// same per-dialect function the limiter uses (radio/airtime.ts frameAirtimeMs).
import { Fragmenter } from '../../codec/fragment.js';
import { FrameType } from '../../codec/frames.js';
import { DEFAULT_INTEGRITY, DEFAULT_REPAIR_RATIO } from '../framed.js';
import type { LinkState } from '../link.js';
import { RadioTransport, type DeviceInfo } from './transport.js';
import { createRadioTransport, type RadioFactoryDeps } from './factory.js';
import { findBoardProfile } from '../boards.js';
import type { LoraRadioSettings } from '../lora/common.js';
import { AltnetError, ConfigError } from '../../util/errors.js';

/** Bytes per header of the stream codec, measured over the shared mainnet headers (README, bench). */
export const STREAM_BYTES_PER_HEADER = 38.95;
/** Headers in the batch used for the estimate, and the batch body's own bytes (height, prefix). */
const BATCH = 100;
const BATCH_BODY_OVERHEAD = 12;

export interface AirtimeBudget {
  dutyCycle: number;
  windowMs: number;
  maxDwellMs?: number;
  /** Airtime allowed per hour, ms. */
  perHourMs: number;
  mtu: number;
  /** Airtime of one full (MTU) frame, ms. */
  fullFrameMs: number;
  /** Frames of a 100-header batch (source and repair fragments) and their airtime. */
  batchFrames: number;
  batchMs: number;
  headersPerHour: number;
}

/** Headers per hour a link's budget allows, from its MTU, its airtime function and its rule. */
export function airtimeBudget(
  mtu: number,
  airtimeOf: (bytes: number) => number,
  rule: { dutyCycle: number; windowMs: number; maxDwellMs?: number },
): AirtimeBudget {
  const perHourMs = rule.dutyCycle * 3_600_000;
  const body = new Uint8Array(Math.ceil(BATCH * STREAM_BYTES_PER_HEADER) + BATCH_BODY_OVERHEAD);
  const frames = new Fragmenter({ mtu, integrity: DEFAULT_INTEGRITY, repairRatio: DEFAULT_REPAIR_RATIO }).fragment(FrameType.HEADERS, body);
  const batchMs = frames.reduce((s, f) => s + airtimeOf(f.length), 0);
  return {
    dutyCycle: rule.dutyCycle,
    windowMs: rule.windowMs,
    maxDwellMs: rule.maxDwellMs,
    perHourMs,
    mtu,
    fullFrameMs: airtimeOf(mtu),
    batchFrames: frames.length,
    batchMs,
    headersPerHour: Math.floor((perHourMs / batchMs) * BATCH),
  };
}

export interface ProbeReport {
  board: string;
  boardName: string;
  dialect: string;
  state: LinkState;
  device: DeviceInfo;
  configured: Record<string, string | number | boolean | undefined>;
  budget: AirtimeBudget;
}

/** Opens the radio, asks it, closes it. Throws an AltnetError when it does not come up in `waitMs`. */
export async function probeRadio(options: Record<string, string>, deps: RadioFactoryDeps, waitMs = 10_000): Promise<ProbeReport> {
  if (!options.board)
    throw new ConfigError('link-option-missing', 'board= is required to probe a radio (`altnet boards` lists the profiles)');
  const profile = deps.profiles?.find((p) => p.id === options.board) ?? findBoardProfile(options.board, deps.boardsDir);
  const type = profile.dialect === 'kiss' ? 'kiss' : 'lora';
  const t = createRadioTransport({ name: 'probe', type, ...options }, deps);
  if (!(t instanceof RadioTransport)) throw new AltnetError('probe-unsupported', 'this link type cannot be probed');
  let reason = '';
  t.onState((_s, r) => {
    if (r) reason = r;
  });
  try {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      t.open(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new AltnetError(
                'probe-no-answer',
                `the radio did not come up within ${waitMs} ms${reason ? ` (last: ${reason})` : ''}; check device=, baud= and board=`,
              ),
            ),
          waitMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    const device = await t.deviceInfo();
    const configured: ProbeReport['configured'] = {};
    const s = 'settings' in t ? (t.settings as LoraRadioSettings) : undefined;
    if (s) {
      Object.assign(configured, {
        region: s.region,
        frequencyHz: s.frequencyHz,
        sf: s.sf,
        bandwidthHz: s.bandwidthHz,
        codingRate: `4/${s.codingRate}`,
        preambleSymbols: s.preambleSymbols,
        txPowerDbm: s.txPowerDbm,
        syncWord: s.syncWord === undefined ? "the firmware's" : `0x${s.syncWord.toString(16)}`,
        crc: s.crc,
        explicitHeader: s.explicitHeader,
        invertIq: s.invertIq,
      });
    }
    return {
      board: profile.id,
      boardName: profile.name,
      dialect: profile.dialect,
      state: t.state,
      device,
      configured,
      budget: airtimeBudget(t.capabilities.mtu, (n) => t.frameAirtimeMs(n), t.airtimeRule),
    };
  } finally {
    await t.close();
  }
}
