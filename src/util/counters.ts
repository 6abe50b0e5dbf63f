// Named monotonic counters and gauges. Every component gets its own instance (or a
// scoped view of a shared one) through its constructor: there is no global registry.
// A name written with set() is a gauge (it may go down); one written with inc() a counter.
// Metrics export the two kinds as Prometheus gauges and counters.
import { compareNames } from './order.js';

export class Counters {
  constructor(
    private readonly prefix = '',
    private readonly values = new Map<string, number>(),
    private readonly gauges = new Set<string>(),
  ) {}

  inc(name: string, by = 1): void {
    const key = this.prefix + name;
    this.values.set(key, (this.values.get(key) ?? 0) + by);
  }

  set(name: string, value: number): void {
    this.gauges.add(this.prefix + name);
    this.values.set(this.prefix + name, value);
  }

  get(name: string): number {
    return this.values.get(this.prefix + name) ?? 0;
  }

  /** A view that writes into the same store with names prefixed, e.g. `link.lora0.`. */
  scoped(prefix: string): Counters {
    return new Counters(this.prefix + prefix, this.values, this.gauges);
  }

  /** Names in the store (not only this view's) written with set(): gauges, not counters. */
  gaugeNames(): string[] {
    return [...this.gauges].sort();
  }

  /** Every counter in the store (not only this view's), sorted by name. */
  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.values.entries()].sort(([a], [b]) => compareNames(a, b)));
  }
}
