import type { TransmissionFigures } from '@dropops/protocol';
import type { Sql } from '../db/database.ts';

/**
 * The live transmission monitor's figures for one conversation: per command, the bytes that stayed on the
 * host, the bytes that left it for the model (already redacted and cut there) and the bytes of the metadata
 * row the appliance keeps; plus the running share of output that never left its host.
 */
export class TransmissionTally {
  private kept = 0;
  private sent = 0;

  constructor(private readonly sql: Sql) {}

  async figures(run: {
    executionId: string;
    operatorId: string;
    operator: string;
    sentToModelBytes: number;
  }): Promise<TransmissionFigures | undefined> {
    const [row] = await this.sql<{ kept: string | null; stored: number; sha: string | null }[]>`
      SELECT coalesce(stdout_bytes, 0) + coalesce(stderr_bytes, 0) AS kept, pg_column_size(e.*) AS stored,
             output_sha256 AS sha
      FROM executions e WHERE id = ${run.executionId}`;
    if (!row) return undefined;
    const kept = Number(row.kept ?? 0);
    this.kept += kept;
    this.sent += Math.min(run.sentToModelBytes, kept);
    return {
      executionId: run.executionId,
      operatorId: run.operatorId,
      operator: run.operator,
      keptOnHostBytes: kept,
      sentToModelBytes: run.sentToModelBytes,
      storedBytes: Number(row.stored),
      outputSha256: row.sha,
      cumulativeLocalShare: this.kept === 0 ? 1 : (this.kept - this.sent) / this.kept,
    };
  }
}
