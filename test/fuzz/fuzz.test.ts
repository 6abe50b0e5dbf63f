// The bounded fuzz run CI makes on every change: 50,000 inputs on the node port over v1,
// 500 BIP324 v2 connections (each costs the responder an ECDH, ~2-5 ms), and 50,000 on the
// driver IPC decoder. Only typed errors, never a crash; memory stays bounded. The long run is
// `npm run fuzz` (README: Fuzzing).
import { describe, expect, it } from 'vitest';
import { fuzzIpc, fuzzPort, v1Target, v2Target, type FuzzCounts } from './node-port.js';

function check(r: FuzzCounts): void {
  expect(r.crashSamples).toEqual([]);
  expect(r.crashes).toBe(0);
  // Both outcomes occur: inputs that keep a connection open and inputs that get it dropped.
  expect(r.accepted).toBeGreaterThan(0);
  expect(r.typedErrors).toBeGreaterThan(0);
  expect(r.maxRss).toBeLessThan(1_000_000_000);
}

describe('fuzz: what a hostile local process or a broken driver can send', () => {
  it('node port, v1: 50,000 inputs', () => check(fuzzPort(v1Target(), 50_000, 1)), 120_000);
  it('node port, BIP324 v2: 500 connections', () => check(fuzzPort(v2Target(), 500, 1)), 120_000);
  it('driver IPC decoder: 50,000 inputs', () => check(fuzzIpc(50_000, 1)), 120_000);
});
