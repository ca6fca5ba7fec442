import { join } from 'node:path';
import { AdminClient, loadConfig, startAppliance, type RunningAppliance } from '@dropops/appliance';
import pino from 'pino';
import { tempDir } from '../helpers.ts';
import { isolatedSchema, type Backend } from './services.ts';

export interface LogLine {
  level: number;
  msg: string;
  code?: string;
  [key: string]: unknown;
}

/** A pino logger whose lines a test can read back. */
export function capturedLogger(name: string) {
  const lines: LogLine[] = [];
  const logger = pino(
    { level: 'debug', base: { service: name } },
    { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) },
  );
  return { logger, lines };
}

export interface TestAppliance extends RunningAppliance {
  dataDir: string;
  admin: AdminClient;
  logs: LogLine[];
  /** The database startup parameters (the isolated schema on PostgreSQL), for a second replica. */
  databaseConnection?: Record<string, string>;
  stop(): Promise<void>;
}

/** A real relay on a loopback port with its own data dir, on the given backend. */
export async function startTestAppliance(
  backend: Backend,
  settings: Record<string, unknown> = {},
): Promise<TestAppliance> {
  const dir = tempDir('dropops-appliance-');
  const schema = backend === 'postgresql' ? await isolatedSchema() : undefined;
  const { logger, lines } = capturedLogger('appliance');
  const config = loadConfig(
    {
      dataDir: join(dir.path, 'data'),
      port: 0,
      databaseUrl: backend === 'postgresql' ? process.env.DATABASE_URL : undefined,
      ...settings,
    },
    {},
  );
  const appliance = await startAppliance(config, { databaseConnection: schema?.connection, logger });
  return Object.assign(appliance, {
    dataDir: config.dataDir,
    admin: new AdminClient(config.dataDir),
    logs: lines,
    databaseConnection: schema?.connection,
    async stop() {
      await appliance.close();
      await schema?.drop();
      dir.remove();
    },
  });
}

/** Waits until `check` holds, polling; fails with `what` after the limit so a hang reads as a failure. */
export async function eventually<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  limitMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
