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
export async function benchDatabase(): Promise<string | null> {
  const base = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const admin = postgres(base, { max: 1, onnotice: () => {}, connect_timeout: 3 });
  try {
    await admin.unsafe('DROP DATABASE IF EXISTS dropops_bench WITH (FORCE)');
    await admin.unsafe('CREATE DATABASE dropops_bench');
  } catch {
    return null;
  } finally {
    await admin.end({ timeout: 1 }).catch(() => {});
  }
  const url = new URL(base);
  url.pathname = '/dropops_bench';
  return url.toString();
}

export interface RelayProcess {
  child: ChildProcess;
  url: string;
  caPin: string;
  dataDir: string;
  stop(): Promise<void>;
}

/** The relay as its own process (so its memory is its own), started the way `npm start` starts it. */
export async function startRelay(dataDir: string, databaseUrl: string | null): Promise<RelayProcess> {
  const child = spawn(
    bin('dropops-appliance'),
    ['start', '--data-dir', dataDir, '--port', '0', '--log-level', 'warn'],
    {
      env: { ...process.env, ...(databaseUrl ? { DATABASE_URL: databaseUrl } : { DATABASE_URL: '' }) },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const urlLine = await waitForLine(child, /running at https:/);
  const url = /running at (https:\/\/\S+)/.exec(urlLine)![1]!;
  const { caPin } = JSON.parse(readFileSync(join(dataDir, 'relay.json'), 'utf8')) as { caPin: string };
  return {
    child,
    url,
    caPin,
    dataDir,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
