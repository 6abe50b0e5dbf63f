// The slice of noble (@stoprocent/noble) the BLE transport uses, typed narrowly, and how a noble
// instance is made for a given HCI controller. Each transport gets its own noble instance (no
// module-level singleton), so one process can drive several controllers.
import { createRequire } from 'node:module';

export interface CharacteristicLike {
  readonly uuid: string;
  readonly properties: string[];
  writeAsync(data: Buffer, withoutResponse: boolean): Promise<void>;
  readAsync(): Promise<Buffer>;
  subscribeAsync(): Promise<void>;
  on(event: 'data', listener: (data: Buffer, isNotification: boolean) => void): unknown;
  removeAllListeners(event?: string): unknown;
}

export interface PeripheralLike {
  readonly id: string;
  readonly address: string;
  readonly advertisement: { localName?: string };
  readonly mtu: number | null;
  readonly state: string;
  connectAsync(options?: { mtu?: number }): Promise<void>;
  cancelConnect(): void;
  disconnectAsync(): Promise<void>;
  discoverSomeServicesAndCharacteristicsAsync(
    serviceUuids: string[],
    characteristicUuids: string[],
  ): Promise<{ characteristics: CharacteristicLike[] }>;
  once(event: 'disconnect', listener: (reason: number | string) => void): unknown;
  removeListener(event: string, listener: (...args: never[]) => void): unknown;
}

export interface NobleLike {
  readonly state: string;
  waitForPoweredOnAsync(timeoutMs?: number): Promise<void>;
  startScanningAsync(serviceUuids?: string[], allowDuplicates?: boolean): Promise<void>;
  stopScanningAsync(): Promise<void>;
  on(event: 'discover', listener: (p: PeripheralLike) => void): unknown;
  on(event: 'stateChange', listener: (state: string) => void): unknown;
  removeListener(event: string, listener: (...args: never[]) => void): unknown;
  removeAllListeners(event?: string): unknown;
  stop(): void;
}

/** Which HCI controller noble drives. */
export type HciSelection =
  | { kind: 'default' }
  /** Linux HCI socket of controller hciN. */
  | { kind: 'device'; deviceId: number }
  /** A controller behind a UART speaking H4 (Zephyr hci_uart, nRF52 HCI firmware, an emulator). */
  | { kind: 'uart'; port: string; baudRate: number };

export type NobleFactory = (hci: HciSelection) => NobleLike;

type WithBindings = (type: string, options: Record<string, unknown>) => NobleLike;

/**
 * The real noble. The UART port goes in as a bind parameter rather than through
 * BLUETOOTH_HCI_SOCKET_UART_PORT, which is process-wide and would make every instance share it.
 */
export const realNoble: NobleFactory = (hci) => {
  const require = createRequire(import.meta.url);
  const withBindings = require('@stoprocent/noble/lib/resolve-bindings.js') as WithBindings;
  switch (hci.kind) {
    case 'uart':
      return withBindings('hci', {
        hciDriver: 'uart',
        bindParams: { uart: { port: hci.port, baudRate: hci.baudRate } },
      });
    case 'device':
      return withBindings('hci', { deviceId: hci.deviceId });
    case 'default':
      return withBindings('default', {});
  }
};

/**
 * noble parses HCI events and ATT PDUs with unchecked Buffer reads, so a peripheral (or a
 * controller) that sends a truncated PDU makes it throw inside the socket's 'data' event, which
 * takes the whole process down. Catch that at the one door bytes come in by: the HCI socket of
 * this noble instance. The packet that threw is dropped and reported; noble's state is untouched
 * because every such read fails before noble acts on the packet.
 * Returns false when the instance does not use HCI bindings (macOS, Windows, D-Bus).
 */
export function guardHciInput(noble: NobleLike, onMalformed: (error: Error, packet: Buffer) => void): boolean {
  // Reading `state` starts the bindings synchronously, so the socket exists before any byte
  // can arrive (bytes are only read once we return to the event loop).
  void noble.state;
  const socket = (noble as unknown as { _bindings?: { _hci?: { _socket?: unknown } } })._bindings?._hci?._socket as
    { emit: (event: string | symbol, ...args: unknown[]) => boolean } | undefined;
  if (!socket || typeof socket.emit !== 'function') return false;
  const emit = socket.emit.bind(socket);
  socket.emit = (event: string | symbol, ...args: unknown[]): boolean => {
    if (event !== 'data') return emit(event, ...args);
    try {
      return emit(event, ...args);
    } catch (e) {
      onMalformed(e instanceof Error ? e : new Error(String(e)), Buffer.isBuffer(args[0]) ? args[0] : Buffer.alloc(0));
      return true;
    }
  };
  return true;
}
