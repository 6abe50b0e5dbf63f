// `altnet probe`: opens a radio, reports its firmware and version, the settings it reads back,
// and how many headers per hour the configured airtime budget allows (like `rnodeconf --info`
// and `meshtastic --info`). Either a link from altnet.conf (`altnet probe lora0`) or a board and
// device given here (`altnet probe --board=rnode --device=/dev/ttyUSB0 --region=EU868`).
import { probeRadio, type ProbeReport } from '../links/radio/probe.js';
import { silentLogger } from '../util/log.js';
import { Counters } from '../util/counters.js';
import { AltnetError, ConfigError } from '../util/errors.js';
import { ALTNET_VERSION } from '../util/version.js';
import { flag, num, parseCommand, str, type ArgSpec, type CommandSpec } from './args.js';
import { loadConfig } from './config.js';
import type { CliIO } from './io.js';

const USAGE = `usage: altnet probe <link-name> [--conf=<file>] [--json] [--wait=<ms>]
       altnet probe --board=<id> --device=<path> [--region=EU868] [radio options] [--json]

Opens the radio the way the link would (configuring it), then prints what the device says
about itself (firmware, version, the settings it reports back), the settings altnet applied,
and the airtime budget: the share the region allows, the airtime of a full frame, and about
how many headers per hour fit (stream codec, ${'~'}39 bytes per header, with the link's repair
fragments). The radio is closed again afterwards.
  <link-name>   a link.<name> of altnet.conf (type lora or kiss)
  --board, --device, --tcp, --baud, --region, --frequency, --sf, --bw, --cr, --preamble,
  --txpower, --timeout, --channel, --hops   as the link options of the same names
  --wait        how long the radio may take to come up (default 10000 ms)
  --json        machine-readable output

Exit codes: 0 probed, 1 the radio did not answer, 2 usage or config error.`;

const RADIO_KEYS = [
  'board',
  'device',
  'tcp',
  'baud',
  'region',
  'frequency',
  'sf',
  'bw',
  'cr',
  'preamble',
  'txpower',
  'timeout',
  'channel',
  'hops',
];

const SPEC: CommandSpec = {
  name: 'probe',
  options: [
    ...RADIO_KEYS.map((name): ArgSpec => ({ name, type: 'string' })),
    { name: 'json', type: 'bool' },
    { name: 'wait', type: 'int', min: 100, max: 600_000 },
  ],
  configFlags: true,
};

export async function run(args: string[], io: CliIO): Promise<number> {
  const parsed = parseCommand(args, SPEC, USAGE, io, ALTNET_VERSION);
  if (typeof parsed === 'number') return parsed;
  let options: Record<string, string> = {};
  try {
    if (parsed.positional.length > 1) throw new AltnetError('probe-usage', `one link name at a time, got ${parsed.positional.join(' ')}`);
    if (parsed.positional.length === 1) {
      const name = parsed.positional[0];
      const cfg = loadConfig(parsed.configArgs, io);
      const link = cfg.links[name];
      if (!link)
        throw new AltnetError(
          'probe-link-unknown',
          `no link.${name} in the config (links: ${Object.keys(cfg.links).join(', ') || 'none'})`,
        );
      if (link.type !== 'lora' && link.type !== 'kiss')
        throw new AltnetError('probe-unsupported', `link.${name}.type=${link.type}: only radio links (lora, kiss) can be probed`);
      options = { ...link };
      delete options.type;
    }
    for (const k of RADIO_KEYS) {
      const v = str(parsed, k);
      if (v !== undefined) options[k] = v;
    }
    if (!options.board) throw new AltnetError('probe-usage', 'name a link of altnet.conf, or give --board= and --device=');
  } catch (err) {
    io.err(`altnet probe: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  let report: ProbeReport;
  try {
    report = await probeRadio(options, { log: silentLogger(), counters: new Counters() }, num(parsed, 'wait') ?? 10_000);
  } catch (err) {
    const code = err instanceof AltnetError ? ` [${err.code}]` : '';
    io.err(`altnet probe: ${(err as Error).message}${code}`);
    return err instanceof ConfigError ? 2 : 1;
  }
  if (flag(parsed, 'json')) {
    io.out(JSON.stringify(report, null, 2));
    return 0;
  }
  printReport(report, io);
  return 0;
}

function printReport(r: ProbeReport, io: CliIO): void {
  const b = r.budget;
  io.out(`board        ${r.board} (${r.boardName})`);
  io.out(`dialect      ${r.dialect}, link ${r.state}`);
  io.out(`firmware     ${r.device.firmware ?? 'not reported'}`);
  const rb = Object.entries(r.device.readBack);
  io.out(rb.length ? 'reported by the device' : 'reported      nothing (the device cannot be queried)');
  for (const [k, v] of rb) io.out(`  ${k.padEnd(14)} ${v}`);
  io.out('configured by altnet');
  for (const [k, v] of Object.entries(r.configured)) io.out(`  ${k.padEnd(14)} ${v}`);
  const share =
    b.windowMs === 3_600_000
      ? `${+(b.dutyCycle * 100).toFixed(3)}% of each hour`
      : `${Math.round(b.dutyCycle * b.windowMs)} ms in every ${b.windowMs / 1000} s`;
  io.out('airtime');
  io.out(
    `  allowed        ${share} (${(b.perHourMs / 1000).toFixed(1)} s per hour)${b.maxDwellMs ? `, at most ${b.maxDwellMs} ms per transmission` : ''}`,
  );
  io.out(`  full frame     ${b.mtu} bytes = ${b.fullFrameMs.toFixed(1)} ms on air`);
  io.out(`  100 headers    ${b.batchFrames} frames, ${(b.batchMs / 1000).toFixed(2)} s on air`);
  io.out(`  headers/hour   about ${b.headersPerHour} (the beacon uses at most half for catch-up batches)`);
  for (const n of r.device.notes ?? []) io.out(`note: ${n}`);
}
