import type { ExecResult, ModelOutput } from '@dropops/protocol';

export interface Settled {
  result: ExecResult;
  /** Held in memory only until the waiting caller takes it; the relay never writes it anywhere. */
  modelOutput: ModelOutput | null;
}

interface Pending {
  operatorId: string;
  modelOutput: ModelOutput | null;
  resolve: (settled: Settled) => void;
  reject: (err: Error) => void;
}

/** Runs this relay has sent and is waiting on, keyed by execution id and bound to the operator that runs them. */
export class ExecutionTracker {
  private readonly pending = new Map<string, Pending>();

  wait(executionId: string, operatorId: string): Promise<Settled> {
    return new Promise<Settled>((resolve, reject) => {
      this.pending.set(executionId, { operatorId, modelOutput: null, resolve, reject });
    });
  }

  /** Output for a run this operator is not running is dropped: it may not steer another host's result. */
  modelOutput(operatorId: string, output: ModelOutput): boolean {
    const pending = this.pending.get(output.executionId);
    if (pending?.operatorId !== operatorId) return false;
    pending.modelOutput = output;
    return true;
  }

  /** How many bytes of output went to the model for this run, as the relay's metadata records it. */
  modelBytes(operatorId: string, executionId: string): number | null {
    const pending = this.pending.get(executionId);
    if (pending?.operatorId !== operatorId || !pending.modelOutput) return null;
    return Buffer.byteLength(pending.modelOutput.text, 'utf8');
  }

  settle(operatorId: string, result: ExecResult): boolean {
    const pending = this.pending.get(result.executionId);
    if (pending?.operatorId !== operatorId) return false;
    this.pending.delete(result.executionId);
    pending.resolve({ result, modelOutput: pending.modelOutput });
    return true;
  }

  fail(executionId: string, err: Error): void {
    const pending = this.pending.get(executionId);
    this.pending.delete(executionId);
    pending?.reject(err);
  }

  /** The operator went away: every run it held fails now rather than hanging its caller. */
  failAll(operatorId: string, err: Error): void {
    for (const [id, pending] of this.pending) if (pending.operatorId === operatorId) this.fail(id, err);
  }

  isWaiting(executionId: string): boolean {
    return this.pending.has(executionId);
  }
}
