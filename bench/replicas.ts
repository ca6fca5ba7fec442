import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { AdminClient } from '@dropops/appliance';
import { bin, ms, percentile, report, startRelay, type RelayProcess } from './lib.ts';
import { enrolledOperator } from './link.ts';

const OPERATORS_PER_REPLICA = 2;
const APPROVED_RUNS = 200;
const IN_FLIGHT = 8;
const SEQUENTIAL_RUNS = 40;

interface BenchOperator {
  id: string;
  home: RelayProcess;
  child: ChildProcess;
  /** Relay URLs this operator has connected to, in order. */
  connections: string[];
}

async function redisAnswers(url: string): Promise<boolean> {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 2_000, maxRetriesPerRequest: 0 });
  redis.on('error', () => {});
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

/** Resolves once `check` holds, polling every 5 ms; fails after a minute so a hang reads as a failure. */
async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + 60_000;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** An operator process that dials `home` first and the other replica when `home` is gone. */
async function startOperator(
  admin: AdminClient,
  home: RelayProcess,
  other: RelayProcess,
  name: string,
  workDir: string,
): Promise<BenchOperator> {
  const { id, dir } = await enrolledOperator(home, admin, name, workDir);
  const cwd = join(workDir, `${name}-srv`);
  mkdirSync(cwd, { recursive: true });
  const child = spawn(bin('dropops-operator'), ['run', '--dir', dir, '--relay', `${home.url},${other.url}`], {
    cwd,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const op: BenchOperator = { id, home, child, connections: [] };
  createInterface({ input: child.stderr! }).on('line', (line) => {
    if (!line.includes('connected to the relay')) return;
    const { relay } = JSON.parse(line) as { relay?: string };
    if (relay) op.connections.push(relay);
  });
  await until(() => op.connections.length > 0, `${name} to connect`);
  return op;
}

/**
 * Approved commands issued on replica A to operators connected to A and to B (half each), several in flight;
 * then the SIGKILL of B: time until its operators are connected to A again and a command runs on each.
 */
export async function benchReplicas(workDir: string, databaseUrl: string | null): Promise<void> {
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (!databaseUrl || !(await redisAnswers(redisUrl))) {
    report('two relay replicas', { skipped: 'needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL)' });
    return;
  }
  const dataDir = join(workDir, 'replicas');
  const env = { REDIS_URL: redisUrl };
  const relays: RelayProcess[] = [];
  const operators: BenchOperator[] = [];
  try {
    // A makes the CA and the admin token; B starts on the same data dir after it.
    const replicaA = await startRelay(dataDir, databaseUrl, env);
    relays.push(replicaA);
    const replicaB = await startRelay(dataDir, databaseUrl, env);
    relays.push(replicaB);
    const admin = new AdminClient(dataDir, replicaA.url);
    for (let i = 0; i < OPERATORS_PER_REPLICA; i++) {
      operators.push(await startOperator(admin, replicaA, replicaB, `on-a-${i}`, workDir));
      operators.push(await startOperator(admin, replicaB, replicaA, `on-b-${i}`, workDir));
    }
    const approved = (op: BenchOperator) =>
      admin.call('POST', `/api/operators/${op.id}/exec`, { command: 'touch approved.txt', approve: true });
    for (const op of operators) await approved(op);

    // One at a time first: what the hop through Redis to B adds to a single approved run.
    const alone = { local: [] as number[], remote: [] as number[] };
    for (let i = 0; i < SEQUENTIAL_RUNS; i++) {
      const op = operators[i % operators.length]!;
      const t = performance.now();
      await approved(op);
      alone[op.home === replicaA ? 'local' : 'remote'].push(performance.now() - t);
    }
    report('one approved run at a time, issued on A', {
      runs: SEQUENTIAL_RUNS,
      'p50 / p99, operator on A': `${ms(percentile(alone.local, 50))} / ${ms(percentile(alone.local, 99))}`,
      'p50 / p99, operator on B': `${ms(percentile(alone.remote, 50))} / ${ms(percentile(alone.remote, 99))}`,
    });

    const latency = { local: [] as number[], remote: [] as number[] };
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < APPROVED_RUNS) {
          const op = operators[next++ % operators.length]!;
          const t = performance.now();
          await approved(op);
          latency[op.home === replicaA ? 'local' : 'remote'].push(performance.now() - t);
        }
      }),
    );
    const wallMs = performance.now() - started;
    report('approvals fanned out across two replicas (issued on A; operators on A and on B)', {
      runs: `${APPROVED_RUNS} approved \`touch\`, ${IN_FLIGHT} in flight, ${operators.length} operators`,
      throughput: `${((APPROVED_RUNS / wallMs) * 1000).toFixed(1)} /s`,
      'p50 / p99, operator on A (same replica)': `${ms(percentile(latency.local, 50))} / ${ms(percentile(latency.local, 99))}`,
      'p50 / p99, operator on B (through Redis)': `${ms(percentile(latency.remote, 50))} / ${ms(percentile(latency.remote, 99))}`,
    });

    const moved = operators.filter((op) => op.home === replicaB);
    const killedAt = performance.now();
    replicaB.child.kill('SIGKILL');
    await until(
      () => moved.every((op) => op.connections.at(-1) === replicaA.url),
      'the operators of B to reconnect to A',
    );
    const reconnectedMs = performance.now() - killedAt;
    let firstRunMs = 0;
    await Promise.all(
      moved.map(async (op) => {
        await approved(op);
        firstRunMs ||= performance.now() - killedAt;
      }),
    );
    const allRunMs = performance.now() - killedAt;
    report('replica failover (SIGKILL of B to its operators on A and running commands)', {
      operators: moved.length,
      'SIGKILL to all reconnected to A': ms(reconnectedMs),
      'SIGKILL to the first approved command run through A': ms(firstRunMs),
      'SIGKILL to one approved command run on every moved operator': ms(allRunMs),
    });
  } finally {
    await Promise.all(
      operators.map(
        (op) =>
          new Promise<void>((resolve) => {
            if (op.child.exitCode !== null) return resolve();
            op.child.once('exit', () => resolve());
            op.child.kill('SIGINT');
          }),
      ),
    );
    for (const relay of relays)
      if (relay.child.exitCode === null && relay.child.signalCode === null) await relay.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { tempDir } = await import('../test/helpers.ts');
  const { benchDatabase } = await import('./lib.ts');
  const work = tempDir('dropops-bench-');
  try {
    await benchReplicas(work.path, await benchDatabase());
  } finally {
    work.remove();
  }
}
