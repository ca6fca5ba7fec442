import type { Logger } from 'pino';
import type { Sql } from '../db/database.ts';

export type CertificateState = 'valid' | 'expiring' | 'expired';

export interface CertificateFinding {
  operatorId: string;
  org: string;
  name: string;
  state: CertificateState;
  previous: CertificateState | null;
  notAfter: Date;
}

/**
 * Judges each active slot by its newest unrevoked certificate. Operators renew at two thirds of the lifetime,
 * so one with less than a third left is overdue ('expiring'): its host is offline or failing to renew, and
 * will be locked out at notAfter unless someone looks. Slots without a live key or certificate are cleared.
 * Logs each slot whose state changed to expiring or expired; returns every slot's finding.
 */
export async function sweepCertificateExpiry(sql: Sql, log: Logger): Promise<CertificateFinding[]> {
  const findings = await sql<
    {
      id: string;
      org: string;
      name: string;
      state: CertificateState;
      previous: CertificateState | null;
      not_after: Date;
    }[]
  >`
    WITH newest AS (
      SELECT DISTINCT ON (operator_id) operator_id, not_after, issued_at
      FROM operator_certificates WHERE revoked_at IS NULL
      ORDER BY operator_id, not_after DESC
    ), judged AS (
      SELECT s.id, s.certificate_state AS previous, n.not_after,
        CASE WHEN n.not_after <= now() THEN 'expired'
             WHEN n.not_after - now() < (n.not_after - n.issued_at) / 3 THEN 'expiring'
             ELSE 'valid' END AS state
      FROM operator_slots s JOIN newest n ON n.operator_id = s.id
      WHERE s.api_key_hash IS NOT NULL
    )
    UPDATE operator_slots s
    SET certificate_state = j.state, certificate_not_after = j.not_after, certificate_checked_at = now()
    FROM judged j WHERE s.id = j.id
    RETURNING s.id, s.org, s.name, j.state, j.previous, j.not_after`;
  for (const f of findings) {
    if (f.state === 'valid' || f.state === f.previous) continue;
    log.warn(
      {
        code: f.state === 'expired' ? 'CERT_EXPIRED' : 'CERT_EXPIRING',
        operatorId: f.id,
        notAfter: f.not_after,
      },
      f.state === 'expired'
        ? `the certificate of operator ${f.org}/${f.name} has expired; the host cannot connect until it enrolls again.`
        : `operator ${f.org}/${f.name} has not renewed its certificate (expires ${f.not_after.toISOString()}); check that it runs and reaches the relay.`,
    );
  }
  await sql`
    UPDATE operator_slots SET certificate_state = NULL, certificate_not_after = NULL, certificate_checked_at = now()
    WHERE certificate_state IS NOT NULL AND id <> ALL(${findings.map((f) => f.id)}::uuid[])`;
  return findings.map((f) => ({
    operatorId: f.id,
    org: f.org,
    name: f.name,
    state: f.state,
    previous: f.previous,
    notAfter: f.not_after,
  }));
}
