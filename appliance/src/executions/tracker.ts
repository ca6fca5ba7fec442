import type { ExecResult, ModelOutput } from '@dropops/protocol';
import { RelayError } from '../errors.ts';

export interface Settled {
  result: ExecResult;
  /** Held in memory only until the waiting caller takes it; the relay never writes it anywhere. */
  modelOutput: ModelOutput | null;
}

interface Pending {
  operatorId: string;
  /** The operator's connection (Socket.IO socket id, on any replica) the run was sent over. */
  link: string;
  resolve: (settled: Settled) => void;
  reject: (err: Error) => void;
}

/** What a caller waiting on a run learns when the connection the run was sent over is gone. */
export function linkLost(): RelayError {
  return new RelayError(
    'OPERATOR_OFFLINE',
    'the operator disconnected during the run; the host keeps running it and reports the result when it reconnects.',
  );
}

/**
 * Runs this relay has sent and is waiting on, keyed by execution id and bound to the operator that runs
 * them and to the connection they went over, which may be held by another replica.
 */
export class ExecutionTracker {
  private readonly pending = new Map<string, Pending>();

  wait(executionId: string, operatorId: string, link: string): Promise<Settled> {
    return new Promise<Settled>((resolve, reject) => {
      this.pending.set(executionId, { operatorId, link, resolve, reject });
    });
  }

  /** A result for a run this operator is not running is ignored: it may not settle another host's run. */
  settle(operatorId: string, result: ExecResult, modelOutput: ModelOutput | null): boolean {
    const pending = this.pending.get(result.executionId);
    if (pending?.operatorId !== operatorId) return false;
    this.pending.delete(result.executionId);
    pending.resolve({
      result,
      modelOutput: modelOutput?.executionId === result.executionId ? modelOutput : null,
    });
    return true;
  }

  fail(executionId: string, err: Error): void {
    const pending = this.pending.get(executionId);
    this.pending.delete(executionId);
    pending?.reject(err);
  }

  /** The connection went away: every run sent over it fails now rather than hanging its caller. */
  failLink(link: string, err: Error): void {
    for (const [id, pending] of this.pending) if (pending.link === link) this.fail(id, err);
  }

  /** The connections that runs are waiting on. */
  links(): string[] {
    return [...new Set([...this.pending.values()].map((p) => p.link))];
  }

  /** The runs being waited on. */
  waitingIds(): string[] {
    return [...this.pending.keys()];
  }

  isWaiting(executionId: string): boolean {
    return this.pending.has(executionId);
  }
}
