// Paths of the real chain data in ../shared/data (never copied into the repo).
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRepoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(resolve(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the repository root');
    dir = up;
  }
  return dir;
}

export const REPO_ROOT = findRepoRoot();
const DATA_DIR = process.env.ALTNET_SHARED_DATA ?? resolve(REPO_ROOT, '..', 'shared', 'data');

export const SHARED_DATA = {
  dir: DATA_DIR,
  /** Heights 0..9999, raw 80-byte records. */
  genesisEraHeaders: resolve(DATA_DIR, 'mainnet-headers-0-9999.bin'),
  /** Heights 822528..830592, raw 80-byte records. */
  recentHeaders: resolve(DATA_DIR, 'mainnet-headers-822528-830592.bin'),
  recentFirstHeight: 822528,
  /** Cumulative chainwork after block 822527 and after block 830592 (DESIGN.md section 3). */
  workBeforeRecent: 0x624c18bf09286e431639df40n,
  workAfterRecent: 0x6a70fe70f2873330c7529db0n,
  block830000: resolve(DATA_DIR, 'mainnet-block-830000.bin'),
  block831328: resolve(DATA_DIR, 'mainnet-block-831328.bin'),
};
