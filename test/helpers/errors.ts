// The one "what did it throw" of the tests that look at a configuration error itself (its code,
// key or message): the test fails when the call throws nothing, or anything but a ConfigError.
import { expect } from 'vitest';
import { ConfigError } from '../../src/util/errors.js';

/** The ConfigError `fn` throws (`E`: a subclass the caller expects, e.g. ConfigLineError). */
export function configErrorOf<E extends ConfigError = ConfigError>(fn: () => unknown, what?: string): E {
  try {
    fn();
  } catch (err) {
    expect(err, what).toBeInstanceOf(ConfigError);
    return err as E;
  }
  throw new Error(`expected a ConfigError${what ? ` (${what})` : ''}`);
}
