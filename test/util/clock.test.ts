// The compressed clock of the demo's --timescale: its readings run ahead of the wall clock, and
// wallMs turns them back into wall-clock time for what a person reads (status, logs).
import { describe, expect, it } from 'vitest';
import { ManualClock, scaledClock, systemClock, wallMs } from '../../src/util/clock.js';

describe('scaledClock', () => {
  it('runs factor times faster than its base, and wallMs maps its readings back to the base', () => {
    const base = new ManualClock(1_700_000_000_000);
    const clock = scaledClock(13, base);
    base.advance(1000);
    expect(clock.nowMs()).toBe(1_700_000_000_000 + 13_000);
    // A frame that may go 130 s from now on the link's clock goes 10 s from now on the wall.
    expect(wallMs(clock, clock.nowMs() + 130_000)).toBe(base.nowMs() + 10_000);
    let fired = false;
    clock.after(130_000, () => (fired = true));
    base.advance(9_999);
    expect(fired).toBe(false);
    base.advance(1);
    expect(fired).toBe(true);
    // At factor 1, and on the system clock, times are already wall-clock.
    expect(wallMs(scaledClock(1, base), 5)).toBe(5);
    expect(wallMs(systemClock, 5)).toBe(5);
  });
});
