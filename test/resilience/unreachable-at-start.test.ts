import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '@dropops/protocol/cli';
import { bin, exec, tempDir } from '../helpers.ts';
import {
  hasPrivateServices,
  startPrivatePostgres,
  startPrivateRedis,
  type PrivateService,
} from '../support/private-services.ts';

// `dropops-appliance start` against a PostgreSQL or Redis that is configured but not running.
describe.runIf(hasPrivateServices())('a relay whose PostgreSQL or Redis does not answer at start', () => {
  const work = tempDir('dropops-unreachable-');
  let pg: PrivateService;
  let redis: PrivateService;

  const start = (name: string, env: NodeJS.ProcessEnv) =>
    exec(bin('dropops-appliance'), ['start', '--data-dir', join(work.path, name), '--port', '0'], {
      env: { DATABASE_URL: undefined, REDIS_URL: undefined, ...env },
    });

  beforeAll(async () => {
    [pg, redis] = await Promise.all([startPrivatePostgres(), startPrivateRedis()]);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([pg?.remove(), redis?.remove()]);
    work.remove();
  });

  it('refuses to start without its PostgreSQL: DATABASE_UNREACHABLE, exit code 3', async () => {
    await pg.stop();
    const run = await start('no-pg', { DATABASE_URL: pg.url.replace('postgres@', 'postgres:s3cret@') });
    expect(run.code).toBe(ExitCode.unavailable);
    expect(run.stdout).not.toContain('running at');
    expect(run.stderr).toContain(
      `dropops-appliance start: DATABASE_UNREACHABLE: cannot reach PostgreSQL at 127.0.0.1:${pg.port} (connect ECONNREFUSED 127.0.0.1:${pg.port}); check DATABASE_URL`,
    );
    expect(run.stderr).not.toContain('s3cret');
    expect(run.stderr).not.toMatch(/\n\s+at /);
    await pg.start();
  }, 120_000);

  it('refuses to start without its Redis: REDIS_UNREACHABLE, exit code 3', async () => {
    await redis.stop();
    const run = await start('no-redis', { DATABASE_URL: pg.url, REDIS_URL: redis.url });
    expect(run.code).toBe(ExitCode.unavailable);
    expect(run.stdout).not.toContain('running at');
    expect(run.stderr).toContain(
      `dropops-appliance start: REDIS_UNREACHABLE: cannot reach Redis at ${redis.url} (connect ECONNREFUSED 127.0.0.1:${redis.port}); check REDIS_URL`,
    );
    expect(run.stderr).not.toMatch(/\n\s+at /);
  }, 120_000);
});
