// Per-network constants: P2P magic, ports, genesis, proof-of-work rules, checkpoints.
import { fromHex, hexToHash } from '../util/bytes.js';
import { serializeHeader } from './header.js';

export type NetworkName = 'main' | 'testnet4' | 'signet' | 'regtest';
export const NETWORK_NAMES: readonly NetworkName[] = ['main', 'testnet4', 'signet', 'regtest'];

export interface Checkpoint {
  height: number;
  /** Block hash, internal byte order. */
  hash: Uint8Array;
  /** Cumulative chain work up to and including this block. */
  chainWork: bigint;
}

export interface NetworkParams {
  name: NetworkName;
  /** P2P message start bytes. */
  magic: Uint8Array;
  defaultPort: number;
  genesisHeader: Uint8Array;
  powLimit: bigint;
  /** No retargeting at all (regtest). */
  noRetargeting: boolean;
  /** Testnet rule: a block more than 2x spacing after its parent may use the pow limit. */
  allowMinDifficultyBlocks: boolean;
  /** BIP94 (testnet4): retarget from the first block of the period; timewarp guard. */
  enforceBip94: boolean;
  targetSpacing: number;
  targetTimespan: number;
  /** Known good blocks the chain may start from instead of genesis. */
  checkpoints: Checkpoint[];
}

const MAINNET_MERKLE = hexToHash('4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b');

function genesis(merkleRoot: Uint8Array, time: number, bits: number, nonce: number): Uint8Array {
  return serializeHeader({ version: 1, prevHash: new Uint8Array(32), merkleRoot, time, bits, nonce });
}

const TARGET_SPACING = 600;
const TARGET_TIMESPAN = 14 * 24 * 60 * 60;

export const NETWORKS: Record<NetworkName, NetworkParams> = {
  main: {
    name: 'main',
    magic: fromHex('f9beb4d9'),
    defaultPort: 8333,
    genesisHeader: genesis(MAINNET_MERKLE, 1231006505, 0x1d00ffff, 2083236893),
    powLimit: 0x00000000ffffffffffffffffffffffffffffffffffffffffffffffffffffffffn,
    noRetargeting: false,
    allowMinDifficultyBlocks: false,
    enforceBip94: false,
    targetSpacing: TARGET_SPACING,
    targetTimespan: TARGET_TIMESPAN,
    checkpoints: [
      // Block 822527: the parent of the first header in ../shared/data/mainnet-headers-822528-830592.bin.
      {
        height: 822527,
        hash: hexToHash('0000000000000000000078f4e50a09391670d061deea0b3b87c3fa60cfaaf782'),
        chainWork: 0x624c18bf09286e431639df40n,
      },
    ],
  },
  testnet4: {
    name: 'testnet4',
    magic: fromHex('1c163f28'),
    defaultPort: 48333,
    genesisHeader: genesis(
      hexToHash('7aa0a7ae1e223414cb807e40cd57e667b718e42aaf9306db9102fe28912b7b4e'),
      1714777860,
      0x1d00ffff,
      393743547,
    ),
    powLimit: 0x00000000ffffffffffffffffffffffffffffffffffffffffffffffffffffffffn,
    noRetargeting: false,
    allowMinDifficultyBlocks: true,
    enforceBip94: true,
    targetSpacing: TARGET_SPACING,
    targetTimespan: TARGET_TIMESPAN,
    checkpoints: [],
  },
  signet: {
    name: 'signet',
    magic: fromHex('0a03cf40'),
    defaultPort: 38333,
    genesisHeader: genesis(MAINNET_MERKLE, 1598918400, 0x1e0377ae, 52613770),
    powLimit: 0x00000377ae000000000000000000000000000000000000000000000000000000n,
    noRetargeting: false,
    allowMinDifficultyBlocks: false,
    enforceBip94: false,
    targetSpacing: TARGET_SPACING,
    targetTimespan: TARGET_TIMESPAN,
    checkpoints: [],
  },
  regtest: {
    name: 'regtest',
    magic: fromHex('fabfb5da'),
    defaultPort: 18444,
    genesisHeader: genesis(MAINNET_MERKLE, 1296688602, 0x207fffff, 2),
    powLimit: 0x7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffn,
    noRetargeting: true,
    allowMinDifficultyBlocks: true,
    enforceBip94: false,
    targetSpacing: TARGET_SPACING,
    targetTimespan: TARGET_TIMESPAN,
    checkpoints: [],
  },
};

export function networkByName(name: string): NetworkParams {
  const n = (NETWORK_NAMES as readonly string[]).includes(name) ? (name as NetworkName) : undefined;
  if (!n) throw new TypeError(`unknown network "${name}"; expected one of ${NETWORK_NAMES.join(', ')}`);
  return NETWORKS[n];
}
