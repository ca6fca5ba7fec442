// The console's own paths, measured from a signed-in /console socket: a read-only command typed in the console
// (console → relay → operator → relay → console), and one approval fanned out to many operators.
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { AdminClient } from '@dropops/appliance';
import type { BatchView, ConversationView, ExecutionSummary, ProposalView } from '@dropops/protocol';
import { addOperator, getBatch, type TestOperator } from '../test/jobs/support.ts';
import { signInToConsole, type ConsoleSession } from './console-client.ts';
import { cpuMsOf, ms, percentile, report, startRelay, waitForLine, type RelayProcess } from './lib.ts';
import { enrolledOperator, startOperator } from './link.ts';

/** The relay's default organisation, which the embedded admin belongs to; every slot here is made in it. */
const ORG = 'bench';
const LATENCY_RUNS = Number(process.env.BENCH_CONSOLE_RUNS ?? 200);
const WARMUP_RUNS = 10;
const FANOUT_OPERATORS = Number(process.env.BENCH_FANOUT_OPERATORS ?? 100);
/** Operators connecting at once while setting up the fan-out. */
const CONNECT_PARALLEL = 10;
const READ_ONLY_COMMAND = 'uname -a';

interface ExecutionRow {
  id: string;
  duration_ms: number | null;
}

const load = () => `${loadavg()[0]!.toFixed(1)} (1 min)`;

/** The run time each host reported for its runs (the result's durationMs, as the relay recorded it). */
async function reportedDurations(admin: AdminClient, operatorId: string): Promise<Map<string, number>> {
  const { executions } = await admin.call<{ executions: ExecutionRow[] }>(
    'GET',
    `/api/operators/${operatorId}/executions`,
  );
  return new Map(executions.flatMap((e) => (e.duration_ms === null ? [] : [[e.id, e.duration_ms]])));
}

/** The typed-command path (no model in it): send → the `execution` event back, N times, one at a time. */
async function benchReadOnlyLatency(
  relay: RelayProcess,
  admin: AdminClient,
  session: ConsoleSession,
  workDir: string,
): Promise<void> {
  const op = await enrolledOperator(relay, admin, 'console-latency', workDir);
  const operator = startOperator(op.dir);
  try {
    await waitForLine(operator, /connected to the relay/);
    const { id } = await session.emit<ConversationView>('conversation:start', {});
    await session.emit('conversation:bind', { conversationId: id, operatorIds: [op.id] });

    const runOnce = async (): Promise<{ executionId: string; ms: number }> => {
      const ran = session.next((e) => e.conversationId === id && e.type === 'execution', 'the result');
      const ended = session.next(
        (e) => e.conversationId === id && e.type === 'state' && e.state === 'idle',
        'the turn to end',
      );
      const sent = performance.now();
      await session.emit('conversation:run', {
        conversationId: id,
        operatorIds: [op.id],
        command: READ_ONLY_COMMAND,
      });
      const { event, at } = await ran;
      // The next command is refused while this turn is still open.
      await ended;
      const execution = (event as { execution: ExecutionSummary }).execution;
      if (execution.state !== 'succeeded' || execution.mode !== 'auto' || !execution.executionId)
        throw new Error(`the read-only command did not run at once: ${JSON.stringify(execution)}`);
      return { executionId: execution.executionId, ms: at - sent };
    };

    for (let i = 0; i < WARMUP_RUNS; i++) await runOnce();
    const runs: { executionId: string; ms: number }[] = [];
    const durations = new Map<string, number>();
    const loadBefore = load();
    const cpu = {
      relay: cpuMsOf(relay.child.pid!),
      operator: cpuMsOf(operator.pid!),
      console: cpuMsOf(process.pid),
    };
    const started = performance.now();
    for (let i = 0; i < LATENCY_RUNS; i++) {
      runs.push(await runOnce());
      // The relay lists a host's latest 100 runs: read their durations before they drop out of the list.
      if (runs.length % 50 === 0 || i === LATENCY_RUNS - 1)
        for (const [runId, d] of await reportedDurations(admin, op.id)) durations.set(runId, d);
    }
    const wallMs = performance.now() - started;
    const used = {
      relay: cpuMsOf(relay.child.pid!) - cpu.relay,
      operator: cpuMsOf(operator.pid!) - cpu.operator,
      console: cpuMsOf(process.pid) - cpu.console,
    };
    const raw = runs.map((r) => r.ms);
    const own = runs.map((r) => {
      const d = durations.get(r.executionId);
      if (d === undefined) throw new Error(`no duration recorded for run ${r.executionId}`);
      return d;
    });
    const net = runs.map((r, i) => r.ms - own[i]!);
    report('console → operator → console, a read-only command typed in the console (no model)', {
      runs: `${LATENCY_RUNS} sequential \`${READ_ONLY_COMMAND}\` (after ${WARMUP_RUNS} warm-up), relay, operator and console in 3 processes`,
      'raw p50 / p99 (send to the execution event back)': `${ms(percentile(raw, 50))} / ${ms(percentile(raw, 99))}`,
      "the command's own run time p50 / p99 (durationMs the host reported)": `${ms(percentile(own, 50))} / ${ms(percentile(own, 99))}`,
      'net p50 / p99 (raw − own run time, per run)': `${ms(percentile(net, 50))} / ${ms(percentile(net, 99))}`,
      'CPU per command: relay / operator (incl. the command) / console client': `${ms(used.relay / LATENCY_RUNS)} / ${ms(used.operator / LATENCY_RUNS)} / ${ms(used.console / LATENCY_RUNS)}`,
      'wall time of the measured runs': `${(wallMs / 1000).toFixed(1)} s`,
      'load average before / after': `${loadBefore} / ${load()}`,
    });
  } finally {
    const exited = new Promise((resolve) => operator.once('exit', resolve));
    operator.kill('SIGINT');
    await exited;
  }
}

/**
 * Many in-process operators: enrolled one after another (ten at once from one process met ECONNRESET on the
 * enrollment POST under load, each making its RSA key on this event loop), then connected a few at a time.
 */
async function fanOutOperators(relay: RelayProcess, admin: AdminClient, workDir: string) {
  const operators: TestOperator[] = [];
  for (let i = 0; i < FANOUT_OPERATORS; i++)
    operators.push(await addOperator(admin, relay, join(workDir, 'fan-out'), `fan-${i}`, ORG));
  for (let first = 0; first < operators.length; first += CONNECT_PARALLEL)
    await Promise.all(operators.slice(first, first + CONNECT_PARALLEL).map((op) => op.start()));
  return operators;
}

/** Time between two ISO stamps of the relay, in ms. */
const between = (from: string | null, to: string | null) => Date.parse(to!) - Date.parse(from!);

/**
 * One typed state change for every operator: the proposal, one approval, and the batch that runs it host after
 * host, until the console has every host's result.
 */
async function approveOnce(
  relayPid: number,
  admin: AdminClient,
  session: ConsoleSession,
  conversationId: string,
  operators: TestOperator[],
  continueOnFailure: boolean,
): Promise<void> {
  const inConversation = (e: { conversationId: string }) => e.conversationId === conversationId;
  const command = `touch fanned-out-${continueOnFailure ? 'continue' : 'stop'}.flag`;
  const proposed = session.next(
    (e) => inConversation(e) && e.type === 'proposal' && e.proposal.state === 'pending',
    'the proposal',
  );
  const typed = performance.now();
  await session.emit('conversation:run', {
    conversationId,
    operatorIds: operators.map((o) => o.id),
    command,
  });
  const { event, at: proposedAt } = await proposed;
  const proposal = (event as { proposal: ProposalView }).proposal;
  if (proposal.targets.length !== operators.length)
    throw new Error(`the proposal names ${proposal.targets.length} hosts, not ${operators.length}`);

  const results: ExecutionSummary[] = [];
  let firstAt = 0;
  const allIn = session.next((e) => {
    if (!inConversation(e) || e.type !== 'execution' || e.execution.proposalId !== proposal.id) return false;
    firstAt ||= performance.now();
    results.push(e.execution);
    return results.length === operators.length;
  }, `all ${operators.length} results`);
  const ended = session.next(
    (e) => inConversation(e) && e.type === 'state' && e.state === 'idle',
    'the turn to end',
  );
  const loadBefore = load();
  const cpu = { relay: cpuMsOf(relayPid), here: cpuMsOf(process.pid) };
  const approved = performance.now();
  const decided = await session.emit<ProposalView>('proposal:approve', {
    proposalId: proposal.id,
    continueOnFailure,
  });
  const acknowledged = performance.now();
  const { at: done } = await allIn;
  await ended;
  const used = { relay: cpuMsOf(relayPid) - cpu.relay, here: cpuMsOf(process.pid) - cpu.here };
  const failed = results.filter((r) => r.state !== 'succeeded');
  if (failed.length) throw new Error(`${failed.length} hosts did not succeed: ${JSON.stringify(failed[0])}`);

  const batch: BatchView = await getBatch(admin, decided.batchId!);
  const steps = batch.steps.map((s) => between(s.sentAt, s.finishedAt));
  const gaps = batch.steps.slice(1).map((s, i) => between(batch.steps[i]!.finishedAt, s.sentAt));
  let ownTotal = 0;
  for (const op of operators) {
    const run = results.find((r) => r.operatorId === op.id)!;
    const own = (await reportedDurations(admin, op.id)).get(run.executionId!);
    if (own === undefined) throw new Error(`no duration recorded on ${op.name}`);
    ownTotal += own;
  }
  const total = done - approved;
  const n = operators.length;
  report(`one approval fanned out to ${n} operators, continueOnFailure ${continueOnFailure}`, {
    'typed command to the proposal at the console (each host classifies it first, in turn)': ms(
      proposedAt - typed,
    ),
    'approve sent to its acknowledgement (batch created)': ms(acknowledged - approved),
    'approve sent to the first result at the console': ms(firstAt - approved),
    'approve sent to all results at the console': `${ms(total)} (${ms(total / n)} per host)`,
    "the same without the commands' own run time (sum of durationMs)": `${ms(total - ownTotal)} (${ms((total - ownTotal) / n)} per host)`,
    'in the relay: batch created → started → finished': `${ms(between(batch.createdAt, batch.startedAt))} to start, ${ms(between(batch.createdAt, batch.finishedAt))} to finish`,
    'in the relay: one step, sent → result, p50 / p99': `${ms(percentile(steps, 50))} / ${ms(percentile(steps, 99))}`,
    'in the relay: between steps, mean': ms(gaps.reduce((a, b) => a + b, 0) / Math.max(1, gaps.length)),
    'CPU per host: relay / this process (the operators, their commands, the console client)': `${ms(used.relay / n)} / ${ms(used.here / n)}`,
    'load average before / after': `${loadBefore} / ${load()}`,
  });
}

/** 100 in-process operators bound to one conversation; one approval for all of them, twice. */
async function benchFanOut(
  relay: RelayProcess,
  admin: AdminClient,
  session: ConsoleSession,
  workDir: string,
): Promise<void> {
  const setup = performance.now();
  const operators = await fanOutOperators(relay, admin, workDir);
  try {
    console.log(
      `  (${operators.length} operators enrolled and connected in ${((performance.now() - setup) / 1000).toFixed(1)} s)`,
    );
    const { id } = await session.emit<ConversationView>('conversation:start', {});
    await session.emit('conversation:bind', { conversationId: id, operatorIds: operators.map((o) => o.id) });
    for (const continueOnFailure of [false, true])
      await approveOnce(relay.child.pid!, admin, session, id, operators, continueOnFailure);
  } finally {
    await Promise.all(operators.map((op) => op.stop()));
  }
}

/** A relay of its own (PostgreSQL when `databaseUrl` is set, else the embedded PGlite), no model connected. */
export async function benchConsole(workDir: string, databaseUrl: string | null): Promise<void> {
  const relay = await startRelay(join(workDir, 'console-relay'), databaseUrl, {
    DROPOPS_DEFAULT_ORG: ORG,
    DROPOPS_LLM: 'none',
    // One relay alone, as `npm start` runs it.
    REDIS_URL: '',
    // The figures are of the path, not of the limiter: one person here sends far more than a person would.
    DROPOPS_RATE_LIMIT_USER_PER_MINUTE: '1000000',
    DROPOPS_RATE_LIMIT_IP_PER_MINUTE: '1000000',
  });
  let session: ConsoleSession | undefined;
  try {
    const admin = new AdminClient(relay.dataDir, relay.url);
    session = await signInToConsole(relay);
    console.log(
      `\n(console benchmarks on ${databaseUrl ? 'PostgreSQL' : 'PGlite'}; load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')})`,
    );
    await benchReadOnlyLatency(relay, admin, session, workDir);
    await benchFanOut(relay, admin, session, workDir);
  } finally {
    await session?.close();
    await relay.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { tempDir } = await import('../test/helpers.ts');
  const { benchDatabase } = await import('./lib.ts');
  const work = tempDir('dropops-bench-');
  try {
    await benchConsole(work.path, await benchDatabase('dropops_bench_console'));
  } finally {
    work.remove();
  }
}
