import { defineConfig } from 'vitest/config';

export default defineConfig({
  // TypeScript in .cts files too (src/cli/main.cts and util/bundle-entry.cts are CommonJS).
  oxc: { include: /\.(m|c)?tsx?$/ },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/harness/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration tests start real bitcoind processes; two cores are all CI has.
    pool: 'forks',
    maxWorkers: 2,
    // CI also writes a JSON report, from which .ci/run prints a plain "N passed, N failed" line.
    reporters: process.env.CI ? ['default', 'json'] : ['default'],
    outputFile: { json: 'test-results.json' },
  },
});
