import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, ReplayGuard, type Database } from '@dropops/appliance';
import { freshNonce, MAX_CLOCK_SKEW_MS } from '@dropops/protocol';
import { tempDir } from '../helpers.ts';
import { backends, isolatedSchema } from '../support/services.ts';

describe.each(backends())('the replay guard on %s', (backend) => {
  const dir = tempDir();
  let replicaA: Database;
  let replicaB: Database;
  let drop: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    if (backend === 'postgresql') {
      const schema = await isolatedSchema();
      drop = schema.drop;
      // Two connection pools stand for two relay replicas sharing the database.
      replicaA = await openDatabase({
        url: process.env.DATABASE_URL,
        dataDir: dir.path,
        connection: schema.connection,
      });
      replicaB = await openDatabase({
        url: process.env.DATABASE_URL,
        dataDir: dir.path,
        connection: schema.connection,
      });
    } else {
      replicaA = replicaB = await openDatabase({ dataDir: dir.path });
    }
  });
  afterAll(async () => {
    await replicaA?.close();
    if (replicaB !== replicaA) await replicaB?.close();
    await drop?.();
    dir.remove();
  });

  it('accepts a fresh request once and refuses it on every replica afterwards', async () => {
    const a = new ReplayGuard(replicaA.sql);
    const b = new ReplayGuard(replicaB.sql);
    const request = freshNonce();
    await a.check(request);
    await expect(b.check(request)).rejects.toMatchObject({ code: 'REPLAYED_REQUEST' });
    await expect(a.check(request)).rejects.toMatchObject({ code: 'REPLAYED_REQUEST' });
    await b.check(freshNonce());
  });

  it('refuses timestamps outside ±5 minutes and accepts ones just inside', async () => {
    const now = Date.now();
    const guard = new ReplayGuard(replicaA.sql, () => now);
    await expect(guard.check(freshNonce(now - MAX_CLOCK_SKEW_MS - 1))).rejects.toMatchObject({
      code: 'CLOCK_SKEW',
    });
    await expect(guard.check(freshNonce(now + MAX_CLOCK_SKEW_MS + 1))).rejects.toMatchObject({
      code: 'CLOCK_SKEW',
    });
    await guard.check(freshNonce(now - MAX_CLOCK_SKEW_MS + 1000));
    await guard.check(freshNonce(now + MAX_CLOCK_SKEW_MS - 1000));
  });

  it('lets concurrent replicas race on one nonce with exactly one winner', async () => {
    const request = freshNonce();
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) =>
        new ReplayGuard(i % 2 ? replicaA.sql : replicaB.sql).check(request),
      ),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  });
});
