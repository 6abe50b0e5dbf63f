// The outbox's durable store: one write-once <txid>.json per pending transaction, done/,
// expired/, bad/ and relayed/ beside it (layout in outbox.ts). Entries are written whole or not at all
// (util/durable.ts) and re-validated whenever they are read.
import { existsSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { MalformedInputError } from '../util/errors.js';
import { toHex } from '../util/bytes.js';
import { fsyncDir, moveDurably, writeFileDurably } from '../util/durable.js';
import { checkTransaction, type CheckedTx } from './outbox-check.js';

export const ENTRY_FORMAT = 'altnet-outbox-1';
export const TXID_FILE_RE = /^[0-9a-f]{64}\.json$/;

/** The JSON in <txid>.json. */
export interface OutboxEntry {
  format: typeof ENTRY_FORMAT;
  txid: string;
  wtxid: string;
  hex: string;
  /** ISO time the transaction was submitted; the expiry counts from here. */
  addedAt: string;
  /** Who put it there (cli, api). */
  source: string;
}

export function outboxDir(datadir: string, network: string): string {
  return join(datadir, 'outbox', network);
}

export type SubmitOutcome =
  | { status: 'queued'; path: string; tx: CheckedTx }
  | { status: 'already-pending'; path: string; tx: CheckedTx; addedAt: string }
  | { status: 'already-done'; path: string; tx: CheckedTx; doneAt: string };

/**
 * Validates a transaction and stores it as pending (what `altnet send-tx` does; the daemon
 * picks it up). Submitting the same transaction again is a no-op that says so; one already
 * seen by the network is queued again only with `again`.
 */
export function submitToOutbox(
  dir: string,
  input: string | Uint8Array,
  opts: { source?: string; again?: boolean; now?: () => number } = {},
): SubmitOutcome {
  const tx = checkTransaction(input);
  const name = `${tx.txid}.json`;
  const path = join(dir, name);
  const existing = readEntryIfValid(path);
  if (existing) return { status: 'already-pending', path, tx, addedAt: existing.addedAt };
  // A damaged file under this name is kept (moved aside), never overwritten.
  if (existsSync(path)) moveDurably(path, join(dir, 'bad'), `${name}.${opts.now?.() ?? Date.now()}`);
  const donePath = join(dir, 'done', name);
  if (!opts.again && existsSync(donePath)) {
    return { status: 'already-done', path: donePath, tx, doneAt: new Date(statSync(donePath).mtimeMs).toISOString() };
  }
  const entry: OutboxEntry = {
    format: ENTRY_FORMAT,
    txid: tx.txid,
    wtxid: tx.wtxid,
    hex: toHex(tx.raw),
    addedAt: new Date(opts.now?.() ?? Date.now()).toISOString(),
    source: opts.source ?? 'cli',
  };
  writeFileDurably(dir, name, JSON.stringify(entry, null, 1) + '\n');
  return { status: 'queued', path, tx };
}

function readEntryIfValid(path: string): OutboxEntry | undefined {
  try {
    return parseEntry(readFileSync(path, 'utf8'), path.slice(path.lastIndexOf('/') + 1)).entry;
  } catch {
    return undefined;
  }
}

/** Parses and re-validates an entry file's text; throws a typed error saying what is wrong. */
export function parseEntry(text: string, fileName: string): { entry: OutboxEntry; tx: CheckedTx } {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (err) {
    throw new MalformedInputError('outbox-bad-json', `not JSON: ${(err as Error).message}`);
  }
  const e = obj as Partial<OutboxEntry> | null;
  if (!e || typeof e !== 'object') throw new MalformedInputError('outbox-bad-entry', 'not a JSON object');
  if (e.format !== ENTRY_FORMAT)
    throw new MalformedInputError('outbox-bad-entry', `format is ${JSON.stringify(e.format)}, expected ${ENTRY_FORMAT}`);
  if (typeof e.hex !== 'string' || typeof e.txid !== 'string' || typeof e.addedAt !== 'string')
    throw new MalformedInputError('outbox-bad-entry', 'hex, txid or addedAt missing');
  if (!Number.isFinite(Date.parse(e.addedAt)))
    throw new MalformedInputError('outbox-bad-entry', `addedAt ${JSON.stringify(e.addedAt)} is not a date`);
  const tx = checkTransaction(e.hex);
  if (tx.txid !== e.txid)
    throw new MalformedInputError('outbox-txid-mismatch', `the transaction's txid is ${tx.txid}, the entry says ${e.txid}`);
  if (fileName !== `${tx.txid}.json`) throw new MalformedInputError('outbox-bad-name', `file name should be ${tx.txid}.json`);
  return { entry: { ...(e as OutboxEntry), wtxid: tx.wtxid }, tx };
}

/** relayed/<txid>.json: the far end acknowledged the transaction (TXACK); radio resends stop. */
export interface RelayedMark {
  txid: string;
  /** ISO time the acknowledgement arrived. */
  relayedAt: string;
  /** The link it came back on. */
  link: string;
}

const RELAYED = 'relayed';

/** Records durably that a pending transaction was acknowledged; the entry itself is not rewritten. */
export function writeRelayedMark(dir: string, mark: RelayedMark): void {
  writeFileDurably(join(dir, RELAYED), `${mark.txid}.json`, JSON.stringify(mark) + '\n');
}

/** The mark for a pending transaction, or undefined (none, or unreadable: then it is resent, the safe side). */
export function readRelayedMark(dir: string, txid: string): RelayedMark | undefined {
  try {
    const m = JSON.parse(readFileSync(join(dir, RELAYED, `${txid}.json`), 'utf8')) as Partial<RelayedMark>;
    if (m.txid !== txid || typeof m.relayedAt !== 'string' || !Number.isFinite(Date.parse(m.relayedAt)) || typeof m.link !== 'string')
      return undefined;
    return m as RelayedMark;
  } catch {
    return undefined;
  }
}

/** Drops the mark once the entry is done, expired or cancelled. */
export function clearRelayedMark(dir: string, txid: string): void {
  try {
    unlinkSync(join(dir, RELAYED, `${txid}.json`));
    fsyncDir(join(dir, RELAYED));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
