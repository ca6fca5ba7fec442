import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { AdminClient, loadConfig, startAppliance, type RunningAppliance } from '@dropops/appliance';
import { capturedLogger } from '../test/support/appliance.ts';
import { startOperator, type RunningOperator } from '../test/support/operations.ts';
import { ms, percentile, report } from './lib.ts';

const OPERATORS = 20;

/** Resolves once `check` holds, polling every 5 ms; fails after a minute so a hang reads as a failure. */
async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + 60_000;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Graceful handover: operators listing both replicas sit on A; A drains. How long until each is on B,
 * and how long the drain takes (operators leave after the relay's 1 s retry-after plus up to 50 % jitter).
 */
export async function benchDrain(workDir: string, databaseUrl: string | null): Promise<void> {
  if (!databaseUrl) {
    report('replica drain', {
      skipped: 'needs PostgreSQL (DATABASE_URL or 127.0.0.1:5432) for two replicas',
    });
    return;
  }
  const start = (dataDir: string) =>
    startAppliance(loadConfig({ dataDir, port: 0, databaseUrl, logLevel: 'warn' }, {}), {
      logger: capturedLogger('bench-drain').logger,
    });
  const dirA = join(workDir, 'drain-a');
  const dirB = join(workDir, 'drain-b');
  const replicaA = await start(dirA);
  cpSync(join(dirA, 'pki'), join(dirB, 'pki'), { recursive: true });
  let replicaB: RunningAppliance | undefined;
  const operators: RunningOperator[] = [];
  try {
    replicaB = await start(dirB);
    const admin = new AdminClient(dirA);
    for (let i = 0; i < OPERATORS; i++) {
      operators.push(
        await startOperator({
          admin,
          enrollUrl: replicaA.url,
          caPin: replicaA.caPin,
          work: workDir,
          name: `drain-${i}`,
          fingerprint: 'b8'.repeat(32),
          relays: [replicaA.url, replicaB.url],
        }),
      );
    }
    const started = performance.now();
    const moved = new Map<RunningOperator, number>();
    const drained = replicaA.drain(30_000).then((r) => ({ report: r, ms: performance.now() - started }));
    await until(() => {
      for (const op of operators)
        if (!moved.has(op) && replicaB!.hub.isConnected(op.operatorId))
          moved.set(op, performance.now() - started);
      return moved.size === operators.length;
    }, 'every operator to reach B');
    const drain = await drained;
    const times = [...moved.values()];
    report(`replica drain (${OPERATORS} in-process operators listing A and B; A drains)`, {
      'drain start to operator on B, p50 / p99 / max': `${ms(percentile(times, 50))} / ${ms(percentile(times, 99))} / ${ms(Math.max(...times))}`,
      'drain start to A closed': ms(drain.ms),
      'operators told / clean': `${drain.report.operatorsTold} / ${drain.report.clean}`,
    });
  } finally {
    await Promise.all(operators.map((op) => op.stop().catch(() => undefined)));
    await replicaB?.close();
    await replicaA.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { tempDir } = await import('../test/helpers.ts');
  const { benchDatabase } = await import('./lib.ts');
  const work = tempDir('dropops-bench-');
  try {
    await benchDrain(work.path, await benchDatabase());
  } finally {
    work.remove();
  }
}
