// The one "what did it throw" of the tests that look at an error itself (its code, key or
// message): the test fails when the call throws nothing, or an error of another class.
import { expect } from 'vitest';
import { ConfigError } from '../../src/util/errors.js';

/** Any error class (constructor arguments vary). */
type ErrorClass<E extends Error> = abstract new (...args: any[]) => E;

/** The error `fn` throws, checked to be a `Class` (`what` names the case in a failure). */
export function thrownBy<E extends Error>(fn: () => unknown, Class: ErrorClass<E>, what?: string): E {
  try {
    fn();
  } catch (err) {
    expect(err, what).toBeInstanceOf(Class);
    return err as E;
  }
  throw new Error(`expected a ${Class.name}${what ? ` (${what})` : ''}`);
}

/** The ConfigError `fn` throws (`E`: a subclass the caller expects, e.g. ConfigLineError). */
export function configErrorOf<E extends ConfigError = ConfigError>(fn: () => unknown, what?: string): E {
  return thrownBy(fn, ConfigError, what) as E;
}
