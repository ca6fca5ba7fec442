// One approval of one command for several operators, run one host after another.
import { z } from 'zod';
import { ExecRequest } from './execution.ts';

/** The most hosts one approval may cover. */
export const MAX_BATCH_OPERATORS = 500;

/** Admin API body: who asks and who approves come from the caller's credential, never from here. */
export const CreateBatchRequest = z.object({
  /** Slot ids, names or org/name, in the order the command runs on them. */
  operators: z
    .array(z.string().min(1).max(200))
    .min(1)
    .max(MAX_BATCH_OPERATORS)
    .refine((refs) => new Set(refs).size === refs.length, 'an operator is listed twice'),
  command: ExecRequest.shape.command,
  /** Go on to the next host after a failure instead of stopping there. */
  continueOnFailure: z.boolean().default(false),
  timeoutMs: ExecRequest.shape.timeoutMs,
});
export type CreateBatchRequest = z.infer<typeof CreateBatchRequest>;

export const BatchStatus = z.enum(['queued', 'running', 'succeeded', 'failed', 'cancelled']);
export type BatchStatus = z.infer<typeof BatchStatus>;

/**
 * `sent`: the request may have reached the host and no outcome is known yet. `unknown`: the host ran it (it
 * said so, or it may have) but no outcome reached the relay and its vault holds none; it counts as a failure.
 */
export const StepState = z.enum(['pending', 'sent', 'succeeded', 'failed', 'unknown', 'skipped']);
export type StepState = z.infer<typeof StepState>;

export const BatchStepView = z.object({
  position: z.number().int().nonnegative(),
  operatorId: z.string(),
  operator: z.string(),
  state: StepState,
  executionId: z.string().nullable(),
  exitCode: z.number().int().nullable(),
  signal: z.string().nullable(),
  errorCode: z.string().nullable(),
  errorMessage: z.string().nullable(),
  /** 'live' when the result came in, 'vault' when it was read from the host's history after a restart. */
  resolvedFrom: z.enum(['live', 'vault']).nullable(),
  sentAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
});
export type BatchStepView = z.infer<typeof BatchStepView>;

/** Metadata only: the command appears as its sha256, like every run the relay records. */
export const BatchView = z.object({
  id: z.string(),
  status: BatchStatus,
  commandSha256: z.string(),
  continueOnFailure: z.boolean(),
  timeoutMs: z.number().int().nullable(),
  requestedBy: z.string(),
  approvedBy: z.string(),
  cancelRequested: z.boolean(),
  errorCode: z.string().nullable(),
  errorMessage: z.string().nullable(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  steps: z.array(BatchStepView),
});
export type BatchView = z.infer<typeof BatchView>;
