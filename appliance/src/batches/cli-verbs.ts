import { setTimeout as sleep } from 'node:timers/promises';
import type { BatchStepView, BatchView } from '@dropops/protocol';
import { ExitCode, list, UsageError, type Command, type Values } from '@dropops/protocol/cli';
import { AdminClientError, type AdminClient } from '../admin-client.ts';

type Options = NonNullable<Command['options']>;

const FINISHED = new Set(['succeeded', 'failed', 'cancelled']);
const STEP_ENDED = new Set(['succeeded', 'failed', 'unknown', 'skipped']);
const POLL_MS = 500;
/** While watching, how long the CLI keeps retrying an appliance that went away (it may be restarting). */
const UNREACHABLE_PATIENCE_MS = 120_000;

const print = (text: string): void => {
  process.stdout.write(text + '\n');
};

function stepLine(step: BatchStepView, total: number): string {
  const detail =
    step.state === 'succeeded' || (step.state === 'failed' && step.exitCode !== null && !step.errorCode)
      ? `exit ${step.exitCode}`
      : step.signal
        ? `signal ${step.signal}`
        : step.errorCode
          ? `${step.errorCode}${step.errorMessage ? `: ${step.errorMessage}` : ''}`
          : '';
  const source = step.resolvedFrom === 'vault' ? ' (read from the host vault after a relay restart)' : '';
  return `[${step.position + 1}/${total}] ${step.operator.padEnd(28)} ${step.state.padEnd(9)} ${detail}${source}${step.executionId ? `  execution ${step.executionId}` : ''}`;
}

function showBatch(batch: BatchView): void {
  print(
    `batch ${batch.id}: ${batch.status}${batch.cancelRequested && batch.status === 'running' ? ' (cancelling)' : ''} · command sha256 ${batch.commandSha256.slice(0, 16)}… · approved by ${batch.approvedBy}` +
      `${batch.continueOnFailure ? ' · continues on failure' : ' · stops at the first failure'}`,
  );
  for (const step of batch.steps) print(stepLine(step, batch.steps.length));
  if (batch.errorCode) print(`${batch.errorCode}: ${batch.errorMessage ?? ''}`);
}

const exitFor = (batch: BatchView) => (batch.status === 'succeeded' ? ExitCode.ok : ExitCode.failed);
const batchId = (id: string | undefined): string => {
  if (!id) throw new UsageError('give the batch id that `batch run` printed.');
  return encodeURIComponent(id);
};

/** Polls the batch, printing each step as it ends, until the batch ends. */
async function watch(admin: AdminClient, batch: BatchView, json: boolean): Promise<BatchView> {
  const printed = new Set<number>();
  let unreachableSince: number | undefined;
  for (;;) {
    if (!json)
      for (const step of batch.steps)
        if (STEP_ENDED.has(step.state) && !printed.has(step.position)) {
          printed.add(step.position);
          print(stepLine(step, batch.steps.length));
        }
    if (FINISHED.has(batch.status)) return batch;
    await sleep(POLL_MS);
    try {
      ({ batch } = await admin.call<{ batch: BatchView }>('GET', `/api/batches/${batch.id}`));
      unreachableSince = undefined;
    } catch (err) {
      if (!(err instanceof AdminClientError) || err.code !== 'APPLIANCE_UNREACHABLE') throw err;
      if (unreachableSince === undefined) {
        unreachableSince = Date.now();
        process.stderr.write('the appliance is unreachable; the batch is kept in its database; retrying…\n');
      }
      if (Date.now() - unreachableSince > UNREACHABLE_PATIENCE_MS) throw err;
    }
  }
}

/** `batch run | show | cancel`: one approval for a command on several operators, run one after another. */
export function batchCommands(
  client: (values: Values) => AdminClient,
  connection: Options,
): Record<string, Command> {
  const json = { json: { type: 'boolean' as const } };
  return {
    'batch run': {
      summary: 'approve one command for several operators and run it on them in order',
      usage: '--operators A,B[,C] [--continue-on-failure] [--timeout-ms N] [--detach] [--json] -- COMMAND...',
      details: [
        'You approve this exact command once for every listed operator (id, name or org/name), signed with the',
        'appliance approval key. It runs on one host after another; each run has its own execution id.',
        'The batch stops at the first failure (non-zero exit, refusal, operator offline) unless',
        '--continue-on-failure is given. The batch is kept in the database and survives a relay restart.',
        'Waits and prints each step as it ends (Ctrl-C stops watching, not the batch); --detach returns at once.',
        'Exit code 0 when every step succeeded, 1 otherwise.',
      ].join('\n'),
      options: {
        ...connection,
        ...json,
        operators: { type: 'string', multiple: true },
        'continue-on-failure': { type: 'boolean' },
        'timeout-ms': { type: 'string' },
        detach: { type: 'boolean' },
      },
      async run(values, words) {
        const operators = list(values, 'operators');
        if (operators.length === 0)
          throw new UsageError('--operators is required, e.g. --operators web-1,web-2');
        const command = words.join(' ');
        if (!command) throw new UsageError('give the command after --, e.g. -- systemctl restart nginx');
        const timeout = values['timeout-ms'] === undefined ? undefined : Number(values['timeout-ms']);
        if (timeout !== undefined && !(Number.isInteger(timeout) && timeout > 0))
          throw new UsageError('--timeout-ms is a whole number of milliseconds.');
        const admin = client(values);
        const { batch } = await admin.call<{ batch: BatchView }>('POST', '/api/batches', {
          operators,
          command,
          continueOnFailure: values['continue-on-failure'] === true,
          timeoutMs: timeout,
        });
        if (!values.json)
          print(
            `batch ${batch.id} approved for ${batch.steps.length} operator(s); ` +
              (values.detach ? `follow it with \`dropops-appliance batch show ${batch.id}\`.` : 'running:'),
          );
        if (values.detach) {
          if (values.json) print(JSON.stringify(batch, null, 2));
          return ExitCode.ok;
        }
        const ended = await watch(admin, batch, values.json === true);
        if (values.json) print(JSON.stringify(ended, null, 2));
        else print(`batch ${ended.id} ${ended.status}.`);
        return exitFor(ended);
      },
    },
    'batch show': {
      summary: 'show a batch and the state of each of its steps (metadata only)',
      usage: 'BATCH_ID [--json]',
      options: { ...connection, ...json },
      async run(values, [id]) {
        const { batch } = await client(values).call<{ batch: BatchView }>(
          'GET',
          `/api/batches/${batchId(id)}`,
        );
        if (values.json) print(JSON.stringify(batch, null, 2));
        else showBatch(batch);
      },
    },
    'batch cancel': {
      summary: 'stop a batch before its next step and cancel the step in progress',
      usage: 'BATCH_ID [--json]',
      options: { ...connection, ...json },
      async run(values, [id]) {
        const { batch } = await client(values).call<{ batch: BatchView }>(
          'POST',
          `/api/batches/${batchId(id)}/cancel`,
        );
        if (values.json) print(JSON.stringify(batch, null, 2));
        else
          print(
            batch.status === 'cancelled'
              ? `batch ${batch.id} cancelled.`
              : `batch ${batch.id} is stopping; the step in progress was asked to cancel.`,
          );
      },
    },
  };
}
