// Tests use the same local Bitcoin Core runner as `altnet demo`.
export * from '../../src/node/bitcoind.js';
