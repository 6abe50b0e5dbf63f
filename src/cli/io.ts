// What a command may touch of the outside world, so tests can run commands in-process.
export interface CliIO {
  out(line: string): void;
  err(line: string): void;
  env: Record<string, string | undefined>;
  cwd: string;
  /**
   * Where the installed service keeps its config and data; tests point these into a temp dir.
   * Default: /etc/altnet/altnet.conf and /var/lib/altnet (see config.ts).
   */
  layout?: { confPaths: readonly string[]; serviceDatadir: string };
}

export function processIO(): CliIO {
  return {
    out: (l) => process.stdout.write(l + '\n'),
    err: (l) => process.stderr.write(l + '\n'),
    env: process.env,
    cwd: process.cwd(),
  };
}

/** Collects output in memory; for tests. */
export function memoryIO(env: Record<string, string | undefined> = {}): CliIO & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { out: (l) => stdout.push(l), err: (l) => stderr.push(l), env, cwd: process.cwd(), stdout, stderr };
}
