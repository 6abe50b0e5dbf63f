// `altnet beacon`: a broadcast-only transmitter. A well-connected gateway that repeats the
// latest headers on its transmit links for receive-only gateways, within each link's duty cycle.
import type { CliIO } from './io.js';
import { runDaemon } from './cmd-run.js';

export function run(args: string[], io: CliIO): Promise<number> {
  return runDaemon(args, io, 'beacon');
}
