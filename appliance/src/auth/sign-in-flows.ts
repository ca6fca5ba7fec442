import { z } from 'zod';
import type { Sql } from '../db/database.ts';
import { sha256 } from '../security/secrets.ts';
import type { Sealer } from '../sessions/sealing.ts';

/** How long a person has between leaving for the identity provider and coming back. */
export const SIGN_IN_TTL_SECONDS = 10 * 60;

const PendingSignIn = z.object({
  nonce: z.string(),
  codeVerifier: z.string(),
  /** sha256 of the browser's sign-in cookie: only the browser that started the flow may finish it. */
  browser: z.string(),
  returnTo: z.string(),
});
export type PendingSignIn = z.infer<typeof PendingSignIn>;

/**
 * Sign-ins waiting for the provider's callback, in the database so any replica can finish them. Keyed by the
 * sha256 of `state`; taking one deletes it, so a replayed callback finds nothing.
 */
export class SignInFlows {
  constructor(
    private readonly sql: Sql,
    private readonly sealer: Sealer,
  ) {}

  async save(state: string, flow: PendingSignIn): Promise<void> {
    const key = sha256(state);
    await this.sql`
      INSERT INTO sign_in_flows (state_hash, sealed, expires_at)
      VALUES (${key}, ${this.sealer.seal(PendingSignIn.parse(flow), key)},
              now() + ${SIGN_IN_TTL_SECONDS}::int * interval '1 second')`;
  }

  /** Deletes the flows nobody came back to finish; the `cleanup` job runs it. */
  async prune(): Promise<number> {
    return (await this.sql`DELETE FROM sign_in_flows WHERE expires_at < now()`).count;
  }

  /** The flow this state started, once; null when unknown, expired or already taken. */
  async take(state: string): Promise<PendingSignIn | null> {
    const key = sha256(state);
    const [row] = await this.sql<{ sealed: Buffer; live: boolean }[]>`
      DELETE FROM sign_in_flows WHERE state_hash = ${key} RETURNING sealed, expires_at > now() AS live`;
    if (!row?.live) return null;
    const flow = PendingSignIn.safeParse(this.sealer.open(row.sealed, key));
    return flow.success ? flow.data : null;
  }
}
