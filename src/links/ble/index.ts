export { createBleTransport, parseBleOptions, parseHci, type BleFactoryDeps } from './config.js';
export {
  BleTransport,
  BLE_DEFAULTS,
  KISS_SERVICE,
  NUS_SERVICE,
  realTimers,
  type BleServiceProfile,
  type BleTransportConfig,
  type BleTransportDeps,
  type Timers,
} from './transport.js';
export { realNoble, type HciSelection, type NobleFactory, type NobleLike } from './noble.js';
export * from './framing.js';
