import type { HistoryEvent } from '@dropops/protocol';
import type { ExecutionService } from '../executions/service.ts';
import type { SlotRow } from '../operators/slots.ts';

/** What the host's own vault says about one execution id. */
export type VaultFinding =
  | { kind: 'sealed'; outcome: string; exitCode: number | null; signal: string | null }
  /** Started in an operator process that has since been replaced: it will never be sealed. */
  | { kind: 'interrupted' }
  | { kind: 'running' }
  | { kind: 'absent' };

const PAGE = 500;
/** A search reads at most this many events past the starting point; past that the answer is 'absent'. */
const MAX_EVENTS = 50_000;

interface ExecPayload {
  executionId?: unknown;
  sealOf?: unknown;
  outcome?: unknown;
  exitCode?: unknown;
  signal?: unknown;
}

/**
 * Reads the host's history, from the vault head the relay knew when it sent the step, for the run's record:
 * the CMD_EXEC event that opened it and the one that sealed it with its exit status. A CONNECT event of a
 * later operator session after the opening means the process that ran it is gone. Payloads arrive redacted,
 * which leaves ids and numbers as they are.
 */
export async function findRunInVault(
  executions: ExecutionService,
  slot: SlotRow,
  executionId: string,
  afterSeq: number,
): Promise<VaultFinding> {
  let opened: HistoryEvent | undefined;
  let interrupted = false;
  for (let from = afterSeq, read = 0; read < MAX_EVENTS;) {
    const { events } = await executions.history(slot, { afterSeq: from, limit: PAGE });
    for (const event of events) {
      const payload = (event.payload ?? {}) as ExecPayload;
      if (event.type === 'CMD_EXEC' && payload.executionId === executionId) {
        if (payload.sealOf === undefined) opened = event;
        else
          return {
            kind: 'sealed',
            outcome: typeof payload.outcome === 'string' ? payload.outcome : 'unknown',
            exitCode: typeof payload.exitCode === 'number' ? payload.exitCode : null,
            signal: typeof payload.signal === 'string' ? payload.signal : null,
          };
      }
      if (opened && event.type === 'CONNECT' && event.sessionId !== opened.sessionId) interrupted = true;
    }
    if (events.length < PAGE) break;
    read += events.length;
    from = events[events.length - 1]!.seq;
  }
  if (!opened) return { kind: 'absent' };
  return interrupted ? { kind: 'interrupted' } : { kind: 'running' };
}
