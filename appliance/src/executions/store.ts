import { ExecResult } from '@dropops/protocol';
import type { Sql } from '../db/database.ts';

export interface ExecutionRow {
  id: string;
  operator_id: string;
  kind: 'exec' | 'write' | 'restore';
  /**
   * For a write, of `writeFileCommand(...)`, which names the path and the new bytes' sha256; for a restore, of
   * `restoreFileCommand(path, commit)`.
   */
  command_sha256: string;
  requested_by: string;
  approved_by: string | null;
  mode: 'auto' | 'approved' | null;
  state: 'sent' | 'running' | 'finished' | 'refused' | 'failed';
  exit_code: number | null;
  signal: string | null;
  stdout_bytes: string | null;
  stderr_bytes: string | null;
  output_sha256: string | null;
  model_bytes: string | null;
  duration_ms: number | null;
  chain_seq: string | null;
  chain_hash: string | null;
  error_code: string | null;
  /** The host's Ledger Mirror commits for the files the run changed. */
  ledger_commits: string[] | null;
  created_at: Date;
  finished_at: Date | null;
}

export interface NewExecution {
  id: string;
  operatorId: string;
  kind: ExecutionRow['kind'];
  commandSha256: string;
  requestedBy: string;
  approvedBy: string | null;
}

/** The relay's record of each run: metadata an auditor needs, nothing a host would not let leave it. */
export class ExecutionStore {
  constructor(private readonly sql: Sql) {}

  /** A batch step sent again after a relay restart keeps the row it already has. */
  async create(run: NewExecution): Promise<void> {
    await this.sql`
      INSERT INTO executions (id, operator_id, kind, command_sha256, requested_by, approved_by, state)
      VALUES (${run.id}, ${run.operatorId}, ${run.kind}, ${run.commandSha256}, ${run.requestedBy},
              ${run.approvedBy}, 'sent')
      ON CONFLICT (id) DO NOTHING`;
  }

  async started(id: string, mode: 'auto' | 'approved'): Promise<void> {
    await this
      .sql`UPDATE executions SET state = 'running', mode = ${mode} WHERE id = ${id} AND state = 'sent'`;
  }

  async refused(id: string, errorCode: string): Promise<void> {
    await this.sql`
      UPDATE executions SET state = 'refused', error_code = ${errorCode}, finished_at = now()
      WHERE id = ${id} AND state IN ('sent', 'running')`;
  }

  /**
   * Records a result reported by the operator that ran it: the operator id comes from its certificate, so
   * one operator cannot settle another's execution. Returns false when no such run of that operator waits.
   */
  async finished(operatorId: string, result: ExecResult, modelBytes: number | null): Promise<boolean> {
    const state = result.error ? 'failed' : 'finished';
    return this.sql.begin(async (tx) => {
      const rows = await tx`
        UPDATE executions SET state = ${state}, mode = ${result.mode}, exit_code = ${result.exitCode},
          signal = ${result.signal}, stdout_bytes = ${result.stdoutBytes}, stderr_bytes = ${result.stderrBytes},
          output_sha256 = ${result.sha256}, model_bytes = ${modelBytes}, duration_ms = ${result.durationMs},
          chain_seq = ${result.chainHead.seq}, chain_hash = ${result.chainHead.hash},
          error_code = ${result.error?.code ?? null},
          ledger_commits = ${result.ledgerCommits ? this.sql.array(result.ledgerCommits) : null}::text[],
          finished_at = now()
        WHERE id = ${result.executionId} AND operator_id = ${operatorId} AND state IN ('sent', 'running')
        RETURNING id`;
      if (rows.length === 0) return false;
      await tx`
        UPDATE operator_slots SET witness_seq = ${result.chainHead.seq}, witness_hash = ${result.chainHead.hash}
        WHERE id = ${operatorId} AND (witness_seq IS NULL OR witness_seq <= ${result.chainHead.seq})`;
      return true;
    });
  }

  async get(id: string): Promise<ExecutionRow | undefined> {
    if (!/^[0-9a-f-]{36}$/.test(id)) return undefined;
    return (await this.sql<ExecutionRow[]>`SELECT * FROM executions WHERE id = ${id}`)[0];
  }

  /**
   * The results recorded at least `settledForMs` ago among these runs, rebuilt from their rows, for a replica
   * whose caller still waits because the hand-over from the replica that recorded them was lost.
   */
  async recordedResults(
    ids: string[],
    settledForMs: number,
  ): Promise<{ operatorId: string; result: ExecResult }[]> {
    if (ids.length === 0) return [];
    const rows = await this.sql<ExecutionRow[]>`
      SELECT * FROM executions WHERE id = ANY(${this.sql.array(ids)}::uuid[]) AND state IN ('finished', 'failed')
        AND finished_at < now() - make_interval(secs => ${settledForMs / 1000})`;
    return rows.flatMap((row) => {
      const result = ExecResult.safeParse({
        executionId: row.id,
        mode: row.mode,
        exitCode: row.exit_code,
        signal: row.signal,
        stdoutBytes: Number(row.stdout_bytes),
        stderrBytes: Number(row.stderr_bytes),
        sha256: row.output_sha256,
        durationMs: row.duration_ms,
        chainHead: { seq: Number(row.chain_seq), hash: row.chain_hash },
        ...(row.ledger_commits ? { ledgerCommits: row.ledger_commits } : {}),
        error: row.error_code
          ? {
              code: row.error_code,
              message: "the run did not finish normally; the host's vault has the details.",
            }
          : null,
      });
      return result.success ? [{ operatorId: row.operator_id, result: result.data }] : [];
    });
  }

  async list(operatorId: string, limit = 100): Promise<ExecutionRow[]> {
    return this.sql<ExecutionRow[]>`
      SELECT * FROM executions WHERE operator_id = ${operatorId} ORDER BY created_at DESC LIMIT ${limit}`;
  }
}
