import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import postgres from 'postgres';

export const repoRoot = new URL('..', import.meta.url).pathname;
export const bin = (name: string) => join(repoRoot, 'node_modules', '.bin', name);

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export const ms = (n: number) => `${n.toFixed(2)} ms`;
export const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

/**
 * CPU time a process has used, in ms: its own plus that of the children it has waited for (the commands an
 * operator ran), from /proc. Comparing it before and after a run gives a figure the machine's load does not skew.
 */
export function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces: utime is the 12th of them.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
  return (ticks / CLOCK_TICKS_PER_SECOND) * 1000;
}
/** USER_HZ, which Linux fixes at 100 for /proc on every architecture it runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

export function report(name: string, figures: Record<string, string | number>): void {
  console.log(`\n## ${name}`);
  for (const [key, value] of Object.entries(figures)) console.log(`  ${key}: ${value}`);
}

/** Resolves when a child prints a line matching `pattern` on stdout or stderr. */
export function waitForLine(child: ChildProcess, pattern: RegExp, limitMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}`)), limitMs);
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on('line', (line) => {
        if (pattern.test(line)) {
          clearTimeout(timer);
          resolve(line);
        }
      });
    }
    child.once('exit', (code) => reject(new Error(`process exited (${code}) before printing ${pattern}`)));
  });
}

/** A PostgreSQL database of the benchmark's own, made empty for each run; null when no server answers. */
export async function benchDatabase(name = 'dropops_bench'): Promise<string | null> {
  const base = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const admin = postgres(base, { max: 1, onnotice: () => {}, connect_timeout: 3 });
  try {
    await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.unsafe(`CREATE DATABASE ${name}`);
  } catch {
    return null;
  } finally {
    await admin.end({ timeout: 1 }).catch(() => {});
  }
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}

export interface RelayProcess {
  child: ChildProcess;
  url: string;
  caPin: string;
  dataDir: string;
  /** The embedded admin's one-time password, printed after the URL when no password has been chosen yet. */
  oneTimePassword(): string | undefined;
  stop(): Promise<void>;
}

/** The relay as its own process (so its memory is its own), started the way `npm start` starts it. */
export async function startRelay(
  dataDir: string,
  databaseUrl: string | null,
  /** Added to the environment, e.g. REDIS_URL for a replica. */
  env: NodeJS.ProcessEnv = {},
): Promise<RelayProcess> {
  const child = spawn(
    bin('dropops-appliance'),
    ['start', '--data-dir', dataDir, '--port', '0', '--log-level', 'warn'],
    {
      env: {
        ...process.env,
        ...(databaseUrl ? { DATABASE_URL: databaseUrl } : { DATABASE_URL: '' }),
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let oneTimePassword: string | undefined;
  createInterface({ input: child.stdout! }).on('line', (line) => {
    oneTimePassword ??= /one-time password: (\S+)/.exec(line)?.[1];
  });
  const urlLine = await waitForLine(child, /running at https:/);
  const url = /running at (https:\/\/\S+)/.exec(urlLine)![1]!;
  const { caPin } = JSON.parse(readFileSync(join(dataDir, 'relay.json'), 'utf8')) as { caPin: string };
  return {
    child,
    url,
    caPin,
    dataDir,
    oneTimePassword: () => oneTimePassword,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
