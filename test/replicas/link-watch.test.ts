import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecResult } from '@dropops/protocol';
import pino from 'pino';
import { ExecutionStore } from '../../appliance/src/executions/store.ts';
import { ExecutionTracker } from '../../appliance/src/executions/tracker.ts';
import { LinkWatch } from '../../appliance/src/replicas/link-watch.ts';
import { startTestAppliance, type TestAppliance } from '../support/appliance.ts';
import { backends } from '../support/services.ts';

const resultOf = (executionId: string): ExecResult => ({
  executionId,
  mode: 'approved',
  exitCode: 0,
  signal: null,
  stdoutBytes: 12,
  stderrBytes: 0,
  sha256: 'ab'.repeat(32),
  durationMs: 41,
  chainHead: { seq: 7, hash: 'cd'.repeat(32) },
  error: null,
});

// The runs a replica waits on for operators held by other replicas, against a real database: which
// links are alive is the input (in the cluster it comes from every replica through Redis).
describe.each(backends())('the link watch on %s', (backend) => {
  let relay: TestAppliance;
  let store: ExecutionStore;
  let operatorId: string;

  beforeAll(async () => {
    relay = await startTestAppliance(backend);
    store = new ExecutionStore(relay.db.sql);
    const created = await relay.admin.call<{ operator: { id: string } }>('POST', '/api/operators', {
      org: 'acme',
      name: 'watched',
    });
    operatorId = created.operator.id;
  });
  afterAll(async () => {
    await relay?.stop();
  });

  const sentRun = async () => {
    const id = randomUUID();
    await store.create({
      id,
      operatorId,
      kind: 'exec',
      commandSha256: 'ef'.repeat(32),
      requestedBy: 'admin',
      approvedBy: 'admin',
    });
    return id;
  };

  it('fails the runs whose link no live replica holds and keeps the others waiting', async () => {
    const tracker = new ExecutionTracker();
    const [gone, kept] = [await sentRun(), await sentRun()];
    const lost = tracker.wait(gone, operatorId, 'socket-on-a-dead-replica');
    const waiting = tracker.wait(kept, operatorId, 'socket-alive');
    const watch = new LinkWatch({
      tracker,
      liveLinks: async (links) => new Set(links.filter((l) => l === 'socket-alive')),
      recordedResults: (ids, ms) => store.recordedResults(ids, ms),
      log: pino({ level: 'silent' }),
    });
    await watch.sweep();
    await expect(lost).rejects.toMatchObject({ code: 'OPERATOR_OFFLINE' });
    expect(tracker.isWaiting(kept)).toBe(true);
    tracker.settle(operatorId, resultOf(kept), null);
    await expect(waiting).resolves.toMatchObject({ result: { executionId: kept } });
  });

  it('settles from the database a result another replica recorded but could not hand over', async () => {
    const tracker = new ExecutionTracker();
    const id = await sentRun();
    const settled = tracker.wait(id, operatorId, 'socket-alive');
    expect(await store.finished(operatorId, resultOf(id), 12)).toBe(true);
    // Backdated past the hand-over grace, as when the message to this replica was lost.
    await relay.db.sql`UPDATE executions SET finished_at = now() - interval '1 minute' WHERE id = ${id}`;
    const watch = new LinkWatch({
      tracker,
      liveLinks: async (links) => new Set(links),
      recordedResults: (ids, ms) => store.recordedResults(ids, ms),
      log: pino({ level: 'silent' }),
    });
    await watch.sweep();
    await expect(settled).resolves.toEqual({ result: resultOf(id), modelOutput: null });
  });

  it('leaves a result recorded just now to its hand-over', async () => {
    const tracker = new ExecutionTracker();
    const id = await sentRun();
    const settled = tracker.wait(id, operatorId, 'socket-alive');
    await store.finished(operatorId, resultOf(id), 12);
    expect(await store.recordedResults([id], 5_000)).toEqual([]);
    tracker.settle(operatorId, resultOf(id), null);
    await settled;
  });
});
