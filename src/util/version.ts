// altnet's version, in one place (status, metrics, `altnet --version`). Kept in step with
// package.json's "version" (test/cli/args.test.ts checks).
export const ALTNET_VERSION = '0.1.0';
