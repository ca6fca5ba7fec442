import type { ExecResult } from './run.ts';

export type ExecErrorCode =
  | 'BAD_REQUEST'
  | 'DENIED'
  | 'PLAN_REFUSED'
  | 'PROGRAM_NOT_FOUND'
  | 'SPAWN_FAILED'
  | 'CANCELLED'
  | 'TIMED_OUT'
  | 'VAULT_WRITE_FAILED';

/**
 * The executor's one error class; `code` names the failure, the message says what happened and what to do.
 * When the command had started, `result` holds what was recorded and sealed in the vault before it stopped.
 */
export class ExecError extends Error {
  constructor(
    readonly code: ExecErrorCode,
    message: string,
    readonly result?: ExecResult,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ExecError';
  }
}
