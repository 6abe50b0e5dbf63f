// Byte channels under the radio drivers: a serial port (the real `serialport` package) or a TCP
// connection (Dire Wolf's KISS port). A driver gets a factory, so it can reopen after the device
// disappears, and tests can hand it a socat pty.
import { AltnetError } from '../../util/errors.js';
import { Socket, connect } from 'node:net';
import type * as SerialPortPackage from 'serialport';
import type { SerialSettings } from '../boards.js';
import { LinkClosedError } from './errors.js';
import { requireLate } from '../../util/require-late.js';

export interface ByteChannel {
  /** e.g. `serial:/dev/ttyUSB0@115200` or `tcp:127.0.0.1:8001`. */
  readonly description: string;
  /** Resolves once the bytes are handed to the OS (serial: drained). */
  write(data: Uint8Array): Promise<void>;
  close(): Promise<void>;
  onData(handler: (chunk: Uint8Array) => void): void;
  /** Called once when the channel closes for any reason other than our own close(). */
  onClose(handler: (reason: string) => void): void;
}

export type ChannelFactory = () => Promise<ByteChannel>;

/**
 * The `serialport` package, loaded when a serial device is first opened, not when a radio driver
 * starts: links over Dire Wolf's KISS TCP port, BLE and the simulated air never open one, and
 * loading it (its native binding, stream and every parser) costs a Node process ~3.5 MB of
 * anonymous memory (bare Node 5.1 -> 8.6 MB Pss_Anon, 3 processes each). util/require-late.ts
 * says why not import().
 */
function serialPortPackage(): typeof SerialPortPackage {
  return requireLate<typeof SerialPortPackage>('serialport');
}

export function serialChannelFactory(path: string, settings: SerialSettings): ChannelFactory {
  return () => openSerialChannel(path, settings);
}

export async function openSerialChannel(path: string, settings: SerialSettings): Promise<ByteChannel> {
  const { SerialPort } = serialPortPackage();
  const port = new SerialPort({
    path,
    baudRate: settings.baudRate,
    dataBits: settings.dataBits,
    stopBits: settings.stopBits,
    parity: settings.parity,
    rtscts: settings.rtscts,
    autoOpen: false,
  });
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(serialOpenError(path, err)) : resolve())));
  return wrap(`serial:${path}@${settings.baudRate}`, {
    write: (data) =>
      new Promise<void>((resolve, reject) => {
        port.write(Buffer.from(data), (err) => {
          if (err) return reject(err);
          port.drain((err2) => (err2 ? reject(err2) : resolve()));
        });
      }),
    close: () =>
      new Promise<void>((resolve) => {
        if (!port.isOpen) return resolve();
        port.close(() => resolve());
      }),
    isOpen: () => port.isOpen,
    on: (ev, fn) => port.on(ev, fn as (...a: unknown[]) => void),
  });
}

/** What went wrong opening a serial device, said so the operator knows what to do. */
export function serialOpenError(path: string, err: Error): AltnetError {
  const m = err.message;
  if (/ENOENT|No such file/i.test(m)) {
    return new AltnetError(
      'device-missing',
      `${path} does not exist: the radio is not plugged in, or it has another name. \`altnet boards\` lists the serial devices; ` +
        'a /dev/altnet/… name from the udev rules follows the radio whatever order things are plugged in',
      { cause: err },
    );
  }
  if (/EACCES|Permission denied/i.test(m)) {
    return new AltnetError(
      'device-permission',
      `${path}: permission denied; add the daemon's user to group dialout (the service's user altnet is) and log in again`,
      { cause: err },
    );
  }
  if (/EBUSY|busy|Cannot lock port/i.test(m)) {
    return new AltnetError(
      'device-busy',
      `${path} is in use by another program (a serial console, ModemManager, another altnet link); close it or use another device`,
      { cause: err },
    );
  }
  return new AltnetError('device-open-failed', `cannot open ${path}: ${m}`, { cause: err });
}

export function tcpChannelFactory(host: string, port: number, connectTimeoutMs = 5000): ChannelFactory {
  return () => openTcpChannel(host, port, connectTimeoutMs);
}

export async function openTcpChannel(host: string, port: number, connectTimeoutMs = 5000): Promise<ByteChannel> {
  const sock: Socket = await new Promise((resolve, reject) => {
    const s = connect({ host, port });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`connect to ${host}:${port} timed out after ${connectTimeoutMs} ms`));
    }, connectTimeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      resolve(s);
    });
    s.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
  sock.setNoDelay(true);
  return wrap(`tcp:${host}:${port}`, {
    write: (data) =>
      new Promise<void>((resolve, reject) => {
        sock.write(Buffer.from(data), (err) => (err ? reject(err) : resolve()));
      }),
    close: () =>
      new Promise<void>((resolve) => {
        if (sock.destroyed) return resolve();
        sock.once('close', () => resolve());
        sock.end();
        setTimeout(() => sock.destroy(), 500).unref();
      }),
    isOpen: () => !sock.destroyed,
    on: (ev, fn) => sock.on(ev, fn as (...a: unknown[]) => void),
  });
}

interface Raw {
  write(data: Uint8Array): Promise<void>;
  close(): Promise<void>;
  isOpen(): boolean;
  on(ev: 'data' | 'close' | 'error', fn: (arg: unknown) => void): void;
}

function wrap(description: string, raw: Raw): ByteChannel {
  let closedByUs = false;
  let closeReported = false;
  let lastError = '';
  const dataHandlers: ((c: Uint8Array) => void)[] = [];
  const closeHandlers: ((r: string) => void)[] = [];
  raw.on('data', (chunk) => {
    for (const h of dataHandlers) h(chunk as Uint8Array);
  });
  raw.on('error', (err) => {
    lastError = (err as Error).message;
  });
  raw.on('close', () => {
    if (closedByUs || closeReported) return;
    closeReported = true;
    for (const h of closeHandlers) h(lastError || `${description} closed by the other side`);
  });
  return {
    description,
    async write(data) {
      if (closedByUs || !raw.isOpen()) throw new LinkClosedError(description);
      await raw.write(data);
    },
    async close() {
      closedByUs = true;
      await raw.close();
    },
    onData: (h) => void dataHandlers.push(h),
    onClose: (h) => void closeHandlers.push(h),
  };
}
