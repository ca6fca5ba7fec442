import type { KeyObject } from 'node:crypto';
import {
  APPROVAL_ALGORITHM,
  APPROVAL_DEFAULT_TTL_SECONDS,
  APPROVAL_ISSUER,
  APPROVAL_MAX_TTL_SECONDS,
  APPROVAL_TOKEN_TYPE,
  ApprovalClaims,
  commandDigest,
  freshNonce,
} from '@dropops/protocol';
import { SignJWT } from 'jose';
import { RelayError } from '../errors.ts';
import { parseInput } from '../validation.ts';

/** One human's approval of one exact command, for one operator and one execution. */
export interface ApprovalGrant {
  operatorId: string;
  command: string;
  /** The approving human's identity, from their validated credential. */
  approver: string;
  executionId: string;
  /** Defaults to APPROVAL_DEFAULT_TTL_SECONDS; at most APPROVAL_MAX_TTL_SECONDS. */
  ttlSeconds?: number;
}

export interface SignedApproval {
  token: string;
  nonce: string;
  expiresAt: Date;
}

/** Signs an approval token with the CA directory's approval key (`ca.approvalKey.privateKey`). */
export async function signApproval(
  key: KeyObject,
  grant: ApprovalGrant,
  now = Date.now(),
): Promise<SignedApproval> {
  const ttl = grant.ttlSeconds ?? APPROVAL_DEFAULT_TTL_SECONDS;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > APPROVAL_MAX_TTL_SECONDS) {
    throw new RelayError(
      'BAD_REQUEST',
      `an approval lives 1 to ${APPROVAL_MAX_TTL_SECONDS} whole seconds, not ${ttl}; ask for a shorter one.`,
    );
  }
  const iat = Math.floor(now / 1000);
  // Checked against the same schema the operator applies, so the relay never sends a token it would refuse.
  const claims = parseInput(
    ApprovalClaims,
    {
      iss: APPROVAL_ISSUER,
      aud: grant.operatorId,
      cmd: commandDigest(grant.command),
      apr: grant.approver,
      exe: grant.executionId,
      iat,
      exp: iat + ttl,
      nonce: freshNonce(now).nonce,
    },
    'approval',
  );
  const token = await new SignJWT(claims)
    .setProtectedHeader({ alg: APPROVAL_ALGORITHM, typ: APPROVAL_TOKEN_TYPE })
    .sign(key);
  return { token, nonce: claims.nonce, expiresAt: new Date(claims.exp * 1000) };
}
