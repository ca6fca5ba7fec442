import { closeSync, statSync } from 'node:fs';
import { Socket } from 'node:net';
import { isAbsolute } from 'node:path';
import type { Logger } from 'pino';
import { classify } from '../policy/classify.ts';
import { defaultPolicy, type Policy } from '../policy/policy.ts';
import type { Head, Vault } from '../vault/index.ts';
import { OutputCapture, type Stream } from './capture.ts';
import { resolveProgram, scrubbedEnv } from './environment.ts';
import { ExecError } from './errors.ts';
import { planArgv, type PlanNode } from './plan.ts';
import { classifyForExecution, preparePlan } from './prepare.ts';
import { PlanRunner, type Status, type StopReason } from './runner.ts';
import { noSandbox, type Sandbox } from './sandbox.ts';
import { Scratch } from './scratch.ts';

export interface ExecRequest {
  executionId: string;
  command: string;
  /** `auto`: the operator's own classification must say auto; `approved`: an approval was verified. */
  mode: 'auto' | 'approved';
  /** Absolute path of an existing directory. */
  cwd: string;
  /** Kills the command's process groups after this long; no limit when absent. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Between SIGTERM and SIGKILL when stopping (default 2000 ms). */
  killGraceMs?: number;
}

export interface ExecDeps {
  vault: Vault;
  sessionId: string;
  /** From `detectSandbox()`; confines auto commands only. */
  sandbox: Sandbox;
  log: Pick<Logger, 'info' | 'warn'>;
  policy?: Policy;
  /** The environment the scrubbed one is taken from (default process.env). */
  parentEnv?: NodeJS.ProcessEnv;
}

export type ExecOutcome = 'exited' | StopReason;

export interface ExecResult {
  executionId: string;
  outcome: ExecOutcome;
  /** Null when the process that decides the status was killed by a signal. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdoutBytes: number;
  stderrBytes: number;
  /** sha256 (hex) over all stdout bytes followed by all stderr bytes, as stored in the vault. */
  sha256: string;
  durationMs: number;
  /** The CMD_EXEC event that opened the record, which the output chunks belong to. */
  eventId: string;
  /** The CMD_EXEC event that seals the output (sizes and hashes). */
  sealEventId: string;
  /** The vault's chain head after the seal: what the relay may be told. */
  chainHead: Head;
  /** What may go to the model: redacted, cut head and tail beyond 100 KiB, a note for binary output. */
  modelOutput: string;
}

const STOP_ERRORS: Record<StopReason, (r: ExecRequest) => [ExecError['code'], string]> = {
  cancelled: () => ['CANCELLED', 'the command was cancelled; its process groups were killed'],
  'timed-out': (r) => ['TIMED_OUT', `the command ran longer than ${r.timeoutMs} ms and was killed`],
  'vault-write-failed': () => [
    'VAULT_WRITE_FAILED',
    'the audit vault could not store the output (disk full?); the command was killed',
  ],
  'spawn-failed': () => ['SPAWN_FAILED', 'a program of the command could not be started'],
};

function checkCwd(cwd: string): void {
  let dir = false;
  try {
    dir = isAbsolute(cwd) && statSync(cwd).isDirectory();
  } catch {
    // reported below
  }
  if (!dir)
    throw new ExecError('BAD_REQUEST', `working directory ${cwd} is not an absolute path to a directory`);
}

function pipeCount(node: PlanNode): number {
  switch (node.kind) {
    case 'command':
      return 0;
    case 'group':
      return node.body.reduce((n, c) => n + pipeCount(c), 0);
    case 'pipeline':
      return node.stages.length - 1 + node.stages.reduce((n, c) => n + pipeCount(c), 0);
    case 'and':
    case 'or':
      return pipeCount(node.left) + pipeCount(node.right);
    case 'not':
      return pipeCount(node.node);
  }
}

/** What runs: the prepared plan for auto, `/bin/sh -c` for an approved command. */
async function whatRuns(request: ExecRequest, deps: ExecDeps, env: Record<string, string>) {
  const ctx = { cwd: request.cwd, env };
  if (request.mode === 'approved') {
    const { verdict, reason } = classify(request.command, deps.policy ?? defaultPolicy);
    if (verdict === 'deny') throw new ExecError('DENIED', `refused by policy even with approval: ${reason}`);
    const root: PlanNode = {
      kind: 'command',
      argv: ['/bin/sh', '-c', request.command],
      io: [],
      program: '/bin/sh',
    };
    return { root, sandbox: noSandbox };
  }
  const judged = classifyForExecution(request.command, { ...ctx, policy: deps.policy });
  const { verdict, reason } = judged.classification;
  if (verdict === 'deny') throw new ExecError('DENIED', `refused by policy even with approval: ${reason}`);
  if (!judged.plan) throw new ExecError('PLAN_REFUSED', `the command needs approval: ${reason}`);
  return { root: await preparePlan(judged.plan, ctx), sandbox: deps.sandbox };
}

/** Reads one capture pipe until EOF; resolves then (or when `cut` is called). */
function drain(fd: number, stream: Stream, capture: OutputCapture): { done: Promise<void>; cut(): void } {
  const socket = new Socket({ fd, readable: true, writable: false });
  socket.on('data', (data: Buffer) => capture.add(stream, data));
  const done = new Promise<void>((resolve) => {
    socket.once('end', resolve);
    socket.once('close', () => resolve());
    socket.once('error', () => resolve());
  });
  return { done, cut: () => socket.destroy() };
}

/**
 * Runs one command and records it in the vault: a CMD_EXEC event first, the output as it arrives, then a
 * sealing CMD_EXEC event with exit status, sizes, duration and sha256. Auto commands are classified again
 * here, run from their plan without a shell, with programs from root-owned directories only, stdin
 * /dev/null (or their here-document), a scrubbed environment, git's code-running config forced off, and
 * inside the sandbox. Approved commands run under `/bin/sh -c` with the same environment, unsandboxed.
 * Nothing runs when the request is refused (BAD_REQUEST, DENIED, PLAN_REFUSED, PROGRAM_NOT_FOUND). A run that
 * is stopped is still sealed; the ExecError (CANCELLED, TIMED_OUT, VAULT_WRITE_FAILED, SPAWN_FAILED) carries
 * its result.
 */
export async function execute(request: ExecRequest, deps: ExecDeps): Promise<ExecResult> {
  checkCwd(request.cwd);
  const env = scrubbedEnv(deps.parentEnv ?? process.env);
  const { root, sandbox } = await whatRuns(request, deps, env);
  if (request.signal?.aborted)
    throw new ExecError('CANCELLED', 'the command was cancelled before it started');
  const mkfifo = resolveProgram('mkfifo');
  if (!mkfifo) throw new ExecError('SPAWN_FAILED', 'mkfifo was not found in the trusted directories');
  const scratch = await Scratch.create(2 + pipeCount(root), mkfifo);
  try {
    return await record(request, deps, { root, sandbox, env, scratch });
  } finally {
    scratch.remove();
  }
}

async function record(
  request: ExecRequest,
  deps: ExecDeps,
  run: { root: PlanNode; sandbox: Sandbox; env: Record<string, string>; scratch: Scratch },
): Promise<ExecResult> {
  const { vault, sessionId, log } = deps;
  const { executionId, command, mode, cwd } = request;
  let opened;
  try {
    opened = vault.append({
      type: 'CMD_EXEC',
      sessionId,
      payload: { executionId, command, mode, cwd, sandbox: run.sandbox.kind, argv: planArgv(run.root) },
    });
  } catch (err) {
    throw new ExecError(
      'VAULT_WRITE_FAILED',
      `the audit vault refused the command record: ${String(err)}`,
      undefined,
      {
        cause: err,
      },
    );
  }
  const out = run.scratch.pipe();
  const err = run.scratch.pipe();
  const runner = new PlanRunner({
    cwd,
    env: run.env,
    sandbox: run.sandbox,
    scratch: run.scratch,
    killGraceMs: request.killGraceMs ?? 2000,
  });
  const capture = new OutputCapture(vault, opened.id, run.scratch.dir, (e) => {
    log.warn({ executionId, err: String(e) }, 'vault write failed; stopping the command');
    runner.stop('vault-write-failed');
  });
  const readers = [drain(out.read, 'stdout', capture), drain(err.read, 'stderr', capture)];
  // A process that escaped its group could hold the output open forever; after SIGKILL nobody waits for it.
  runner.onKilled = () => readers.forEach((r) => r.cut());
  const onAbort = () => runner.stop('cancelled');
  request.signal?.addEventListener('abort', onAbort, { once: true });
  const timer =
    request.timeoutMs !== undefined
      ? setTimeout(() => runner.stop('timed-out'), request.timeoutMs)
      : undefined;
  log.info({ executionId, mode, sandbox: run.sandbox.kind }, 'running command');
  const started = performance.now();
  let status: Status;
  try {
    status = await runner.run(run.root, ['ignore', out.write, err.write]);
  } catch (e) {
    // An operator-side failure (descriptors exhausted, say): stop what started, and still seal the record.
    runner.stop('spawn-failed', new ExecError('SPAWN_FAILED', `the command could not be run: ${String(e)}`));
    status = { code: 127, signal: null };
  } finally {
    for (const fd of [out.write, err.write]) closeQuietly(fd);
    await Promise.all(readers.map((r) => r.done));
    clearTimeout(timer);
    request.signal?.removeEventListener('abort', onAbort);
    runner.dispose();
  }
  const durationMs = Math.round(performance.now() - started);
  const totals = capture.finish();
  const outcome: ExecOutcome = runner.stopped?.reason ?? 'exited';
  const exitCode = status.signal ? null : status.code;
  let sealed;
  try {
    sealed = vault.sealOutput(opened.id, sessionId, {
      executionId,
      outcome,
      exitCode,
      signal: status.signal,
      durationMs,
      sha256: totals.sha256,
      bytes: totals.stdoutBytes + totals.stderrBytes,
    });
  } catch (e) {
    throw new ExecError(
      'VAULT_WRITE_FAILED',
      `the audit vault could not seal the output: ${String(e)}`,
      undefined,
      {
        cause: e,
      },
    );
  }
  const result: ExecResult = {
    executionId,
    outcome,
    exitCode,
    signal: status.signal,
    ...totals,
    durationMs,
    eventId: opened.id,
    sealEventId: sealed.id,
    chainHead: { seq: sealed.seq, hash: sealed.hash },
    modelOutput: capture.windows.render({ sha256: totals.sha256, executionId }),
  };
  if (runner.stopped) {
    const [code, message] = STOP_ERRORS[runner.stopped.reason](request);
    throw new ExecError(code, runner.stopped.error?.message ?? message, result, { cause: capture.failure });
  }
  return result;
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}
