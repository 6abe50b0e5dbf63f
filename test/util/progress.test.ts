// Progress of a sync: start, progress every few seconds with rate and ETA, done; stalls quieter.
import { describe, expect, it } from 'vitest';
import { Progress, formatEta } from '../../src/util/progress.js';
import { memoryLogger } from '../../src/util/log.js';

describe('Progress', () => {
  it('logs start, a line every 5 s with done/target/percent/rate/ETA, and done; snapshot for status', () => {
    let now = 1_000_000;
    const log = memoryLogger();
    const p = new Progress({ what: 'header sync', unit: 'headers', log, now: () => now });
    expect(p.snapshot()).toBeUndefined();
    p.update(100, 100);
    expect(log.lines).toEqual([]);
    p.update(100, 1100);
    expect(log.lines).toHaveLength(1);
    expect(log.lines[0]).toMatch(/header sync started.*done=100.*target=1100.*headers=1000/);
    for (let i = 1; i <= 4; i++) {
      now += 1000;
      p.update(100 + i * 100, 1100);
    }
    expect(log.lines).toHaveLength(1); // not yet 5 s
    now += 1000;
    p.update(600, 1100);
    expect(log.lines).toHaveLength(2);
    expect(log.lines[1]).toMatch(/header sync progress.*done=600.*target=1100.*percent=50.*perSecond=100.*eta=5s/);
    expect(p.snapshot()).toMatchObject({
      what: 'header sync',
      done: 600,
      target: 1100,
      percent: 50,
      rate: 100,
      etaSeconds: 5,
      finished: false,
    });
    now += 5000;
    p.update(1100, 1100);
    expect(log.lines[2]).toMatch(/header sync done.*height=1100.*headers=1000.*seconds=10/);
    expect(p.snapshot()).toMatchObject({ percent: 100, etaSeconds: 0, finished: true });
    // Further updates at the target say nothing.
    now += 10_000;
    p.update(1100, 1100);
    expect(log.lines).toHaveLength(3);
  });

  it('a stalled job logs once a minute, with an unknown ETA', () => {
    let now = 0;
    const log = memoryLogger();
    const p = new Progress({ what: 'block fetch', unit: 'blocks', log, now: () => now });
    p.update(0, 10);
    for (let t = 1; t <= 120; t++) {
      now = t * 1000;
      p.update(0, 10);
    }
    const progressLines = log.lines.filter((l) => l.includes('progress'));
    expect(progressLines.length).toBeGreaterThanOrEqual(2);
    expect(progressLines.length).toBeLessThanOrEqual(3);
    expect(progressLines[0]).toContain('eta=unknown');
    expect(formatEta(30)).toBe('30s');
    expect(formatEta(600)).toBe('10min');
    expect(formatEta(36_000)).toBe('10.0h');
  });
});
