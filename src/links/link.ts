// The contract every link driver fulfils, whatever it carries bytes over.
// A driver runs in its own child process (gateway/supervisor); everything it reports is
// untrusted and re-validated by the main process before use.
import type { Logger } from '../util/log.js';
import type { Counters } from '../util/counters.js';
import type { NetworkParams } from '../chain/networks.js';
import type { Clock } from '../util/clock.js';

export type LinkDirection = 'rx' | 'tx' | 'duplex';

/** How far below the tip a beacon's carousel reaches by default, in blocks (a day). */
export const DEFAULT_BEACON_DEPTH = 144;
export type Cargo = 'headers' | 'tx' | 'blocks';

export interface LinkCapabilities {
  direction: LinkDirection;
  /** Largest payload one frame can carry, in bytes (after the link's own framing). */
  mtu: number;
  /** Raw bit rate of the medium, bits/s. */
  bitrate: number;
  /** Legal share of airtime, 0 < dutyCycle <= 1 (1 = unrestricted). */
  dutyCycle: number;
  carries: Cargo[];
  /** Amateur-radio links: refuses to transmit without an operator callsign. */
  needsCallsign: boolean;
  /** Requests per second the link allows itself towards its source (internet links); 0: unlimited. */
  requestsPerSecond?: number;
  /** Requests it may make at once before the rate applies. */
  burst?: number;
}

/**
 * An internet link's capabilities: no airtime limit, no callsign, a nominal 1 Mbit/s (the
 * medium is never the bottleneck; the source's rate limit is).
 */
export function internetCapabilities(c: Pick<LinkCapabilities, 'direction' | 'mtu' | 'carries'>): LinkCapabilities {
  return { bitrate: 1_000_000, dutyCycle: 1, needsCallsign: false, ...c };
}

export type LinkState = 'starting' | 'up' | 'degraded' | 'down' | 'stopped';

export interface TipReport {
  height: number;
  /** Block hash, internal byte order, when the source gives it. */
  hash?: Uint8Array;
  /** Cumulative work claimed by the source, when it gives it. A claim, not a fact. */
  chainWork?: bigint;
}

/**
 * Consecutive best-chain headers to transmit, with the header they follow. Radio links code
 * them against the parent, which receivers are expected to have already.
 */
export interface HeaderBatch {
  parentHeight: number;
  /** 80 bytes. */
  parent: Uint8Array;
  headers: Uint8Array[];
}

/** A far end's request for headers: what it has, newest first. */
export interface HeadersWanted {
  locator: Array<{ height: number; prefix: Uint8Array }>;
  max: number;
}

/** What a link reports to the gateway. Nothing here is trusted. */
export interface LinkEvents {
  /** Raw 80-byte headers, in chain order. */
  headers(raw: Uint8Array[]): void;
  /** A raw serialized transaction. */
  tx(raw: Uint8Array): void;
  /** The source's view of its best tip (internet sources, beacons). */
  tip?(report: TipReport): void;
  /** The far end of a duplex radio link asked for headers; the gateway answers with sendHeaders. */
  headersWanted?(req: HeadersWanted): void;
  /** The far end's node accepted these transactions (TXACK, codecs/frames.md 3.4): 8-byte txid prefixes, internal order. */
  txAck?(prefixes: Uint8Array[]): void;
  /**
   * A transmitting radio is ready for its next beacon batch (its last one has left, and its
   * beacon interval has passed): a beacon gateway answers with sendHeaders, at most `maxHeaders`.
   */
  beaconWanted?(maxHeaders: number): void;
  state(state: LinkState, reason?: string): void;
}

export interface LinkContext {
  log: Logger;
  counters: Counters;
  events: LinkEvents;
  network: NetworkParams;
}

export interface Link {
  readonly name: string;
  readonly capabilities: LinkCapabilities;
  start(): Promise<void>;
  stop(): Promise<void>;
  /**
   * Ask for headers that follow the locator (block hashes, newest first, internal order).
   * Answers arrive through events.headers. Links that cannot ask (rx-only radio) omit this.
   */
  requestHeaders?(locator: Uint8Array[]): Promise<void>;
  sendHeaders?(batch: HeaderBatch): Promise<void>;
  sendTx?(raw: Uint8Array): Promise<void>;
  /** Acknowledge transactions that arrived on this link and our node accepted (1..16 txids, internal order). */
  sendTxAck?(txids: Uint8Array[]): Promise<void>;
  /**
   * Fetch one block by hash (internal order) from the source: its raw serialization, witness
   * included. Links whose capabilities carry 'blocks' implement it. The bytes are untrusted: the
   * main process verifies them against the validated header before anything uses them.
   */
  fetchBlock?(hash: Uint8Array): Promise<Uint8Array>;
  /**
   * The gateway's recent best chain (consecutive, starting at fromHeight), so a link that receives
   * compact header frames can find the parents they are coded against.
   */
  setContext?(fromHeight: number, headers: Uint8Array[]): void;
}

/**
 * The byte-moving layer under a radio link (KISS TNC, LoRa modem, BLE UART): one datagram of
 * at most capabilities.mtu bytes per call. The codec (frames, fragments, FEC) sits above it.
 */
export interface FrameTransport {
  readonly capabilities: LinkCapabilities;
  open(): Promise<void>;
  close(): Promise<void>;
  /**
   * Queue one frame for transmission. Resolves once it has been handed to the radio. A frame
   * that must wait (duty cycle, busy modem) stays queued; it is never dropped silently.
   */
  send(frame: Uint8Array): Promise<void>;
  onFrame(handler: (frame: Uint8Array) => void): void;
  onState(handler: (state: LinkState, reason?: string) => void): void;
  /** Airtime of a frame of `bytes` as the radio puts it on air, ms (radios; others leave it out). */
  frameAirtimeMs?(bytes: number): number;
  /** The transport's time and timers, when it has its own (radios); the framed link above uses the same. */
  readonly clock?: Clock;
  /** The airtime rule the transport's limiter enforces (radios). */
  readonly airtimeRule?: { dutyCycle: number; windowMs: number; maxDwellMs: number | undefined };
}

export function canTransmit(c: LinkCapabilities): boolean {
  return c.direction === 'tx' || c.direction === 'duplex';
}

export function canReceive(c: LinkCapabilities): boolean {
  return c.direction === 'rx' || c.direction === 'duplex';
}
