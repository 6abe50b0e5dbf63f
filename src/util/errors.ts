// Typed errors. `code` is stable and machine-readable (used as a counter name);
// the message says what happened and what the user can do about it.

export class AltnetError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bytes from outside (a peer, a radio, a driver, a file) that do not parse. */
export class MalformedInputError extends AltnetError {}

/** Input that parses but breaks a rule (bad PoW, does not connect, too large...). */
export class InvalidDataError extends AltnetError {}

/** A user-supplied setting (flag, config line) that is wrong. */
export class ConfigError extends AltnetError {}
