export { createBleLinkTransport, createBleTransport, parseBleOptions, parseHci, type BleFactoryDeps } from './config.js';
export { BleTransport, BLE_DEFAULTS, type BleTransportConfig, type BleTransportDeps } from './transport.js';
export {
  BleCentral,
  KISS_SERVICE,
  NUS_SERVICE,
  realTimers,
  type BleCentralConfig,
  type BleCentralDeps,
  type BleConnection,
  type BleServiceProfile,
  type Timers,
} from './central.js';
export { realNoble, guardHciInput, type HciSelection, type NobleFactory, type NobleLike } from './noble.js';
export * from './framing.js';
export { bleChannelFactory, openBleChannel } from './channel.js';
