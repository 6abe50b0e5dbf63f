// Typed errors of the radio drivers. `code` doubles as the counter name.
import { AltnetError, ConfigError, MalformedInputError } from '../../util/errors.js';

/** `send` was called while the transmit queue is full: the caller must slow down or drop. */
export class QueueFullError extends AltnetError {
  constructor(limit: number) {
    super('radio-queue-full', `transmit queue is full (${limit} frames waiting for airtime); retry later or lower the send rate`);
  }
}

/** A frame larger than the link's MTU. */
export class FrameTooLargeError extends AltnetError {
  constructor(size: number, mtu: number) {
    super('radio-frame-too-large', `frame of ${size} bytes exceeds the link MTU of ${mtu} bytes; fragment it (codec) first`);
  }
}

/** A frame whose airtime alone breaks the region's dwell time or duty-cycle budget. */
export class AirtimeLimitError extends AltnetError {
  constructor(what: string) {
    super('radio-airtime-limit', `${what}; use a faster data rate (lower SF, wider bandwidth) or a smaller frame`);
  }
}

/** The modem did not answer a command in time. */
export class ModemTimeoutError extends AltnetError {
  constructor(command: string, ms: number) {
    super('modem-timeout', `modem did not answer "${command}" within ${ms} ms; check the cable, baud rate and board profile`);
  }
}

/** The modem answered a command with an error. */
export class ModemError extends AltnetError {
  constructor(command: string, answer: string) {
    super('modem-error', `modem rejected "${command}" with "${answer}"; check the radio settings for this board`);
  }
}

/** The modem reset itself (printed its banner, or reported a reboot) in the middle of a session. */
export class ModemResetError extends AltnetError {
  constructor(banner: string) {
    super('modem-reset', `modem restarted (${JSON.stringify(banner.slice(0, 60))}); it will be configured again`);
  }
}

/** The serial port or TCP connection is not open. */
export class LinkClosedError extends AltnetError {
  constructor(what: string) {
    super('link-closed', `${what} is closed; it will be reopened with backoff, or call open() first`);
  }
}

/** A transmission was given up after several attempts; the frame was NOT sent. */
export class TransmitFailedError extends AltnetError {
  constructor(attempts: number, reason: string) {
    super('radio-transmit-failed', `frame not transmitted after ${attempts} attempts (last: ${reason}); the modem needs attention`);
  }
}

/** Amateur-radio transmitter without an operator callsign. */
export class CallsignRequiredError extends ConfigError {
  constructor(detail = 'no callsign configured') {
    super('callsign-required', `amateur-radio link refuses to transmit: ${detail}; set link.<name>.callsign=YOURCALL-SSID`);
  }
}

export { MalformedInputError };
