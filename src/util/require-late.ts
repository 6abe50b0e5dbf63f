// Loads an npm package at the moment it is first needed instead of when the process starts
// (issue 18, memory): a package only some runs use (bitcoinjs-lib for the first transaction,
// serialport for the first serial device) then costs nothing in the others. Through node:module's
// createRequire, itself reached with process.getBuiltinModule rather than a static import or
// import(): both would bring Node's ESM loader into the daemon's and the drivers' CommonJS
// bundles, which otherwise never start it.

/** require(`name`) resolved from altnet's own node_modules; Node caches it after the first call. */
export function requireLate<T>(name: string): T {
  return process.getBuiltinModule('node:module').createRequire(import.meta.url)(name) as T;
}
