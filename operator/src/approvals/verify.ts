import { timingSafeEqual } from 'node:crypto';
import {
  APPROVAL_ALGORITHM,
  APPROVAL_CLOCK_LEEWAY_SECONDS,
  APPROVAL_ISSUER,
  APPROVAL_MAX_TTL_SECONDS,
  APPROVAL_TOKEN_TYPE,
  ApprovalClaims,
  commandDigest,
} from '@dropops/protocol';
import { compactVerify, errors } from 'jose';
import { parseApprovalKey } from './key.ts';
import type { NonceStore } from './nonces.ts';

export type ApprovalErrorCode =
  | 'NO_KEY'
  | 'MALFORMED'
  | 'FORGED'
  | 'WRONG_TYPE'
  | 'WRONG_OPERATOR'
  | 'WRONG_COMMAND'
  | 'EXPIRED'
  | 'REPLAYED';

/** Why an approval was refused; nothing runs on a refused approval. */
export class ApprovalError extends Error {
  constructor(
    readonly code: ApprovalErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ApprovalError';
  }
}

export interface VerifyApprovalOptions {
  /** This operator's id, from its enrollment. */
  operatorId: string;
  /** The exact command about to run. */
  command: string;
  /** The approval key pinned at enrollment (`approval.pub.pem`). */
  publicKeyPem: string;
  nonces: NonceStore;
  now?: Date;
}

export interface VerifiedApproval {
  approver: string;
  executionId: string;
  nonce: string;
  expiresAt: Date;
}

/** Far above any real token (about 600 bytes); a bigger one is refused before any parsing. */
const MAX_TOKEN_LENGTH = 8192;
const APPROVE_AGAIN = 'ask the approver to approve the command again';

/** Checks the signature with the pinned key; until this returns, nothing in the token is trusted. */
async function verifiedPayload(token: string, publicKeyPem: string) {
  const key = parseApprovalKey(publicKeyPem);
  if (!key) {
    throw new ApprovalError(
      'NO_KEY',
      'this operator has no usable pinned approval key; enroll it again with `dropops-operator enroll --force`.',
    );
  }
  try {
    // Only EdDSA is accepted: `none`, HMAC with the public key as secret and every other algorithm fail here.
    return await compactVerify(token, key, { algorithms: [APPROVAL_ALGORITHM] });
  } catch (err) {
    if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JWSSignatureVerificationFailed) {
      throw new ApprovalError(
        'FORGED',
        "the approval was not signed by this operator's appliance; do not trust the relay that sent it until this is explained.",
      );
    }
    if (err instanceof errors.JOSEError) {
      throw new ApprovalError(
        'MALFORMED',
        `the approval is not a valid compact JWS (${err.message}); ${APPROVE_AGAIN}.`,
      );
    }
    throw err;
  }
}

function parseClaims(payload: Uint8Array): ApprovalClaims {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch {
    json = undefined;
  }
  const claims = ApprovalClaims.safeParse(json);
  if (!claims.success) {
    const problem = claims.error.issues[0];
    throw new ApprovalError(
      'MALFORMED',
      `the approval's claims are not valid (${problem ? `${problem.path.join('.') || 'payload'}: ${problem.message}` : 'not JSON'}); ${APPROVE_AGAIN}.`,
    );
  }
  return claims.data;
}

function checkTimes(claims: ApprovalClaims, nowSeconds: number): void {
  const at = (seconds: number) => new Date(seconds * 1000).toISOString();
  if (claims.exp + APPROVAL_CLOCK_LEEWAY_SECONDS < nowSeconds) {
    throw new ApprovalError(
      'EXPIRED',
      `the approval expired at ${at(claims.exp)} (this host's clock says ${at(nowSeconds)}); ${APPROVE_AGAIN}.`,
    );
  }
  if (claims.exp > nowSeconds + APPROVAL_MAX_TTL_SECONDS + APPROVAL_CLOCK_LEEWAY_SECONDS) {
    throw new ApprovalError(
      'EXPIRED',
      `the approval claims to be valid until ${at(claims.exp)}, beyond the ${APPROVAL_MAX_TTL_SECONDS / 60} minutes an approval may live; check the appliance's clock and approve again.`,
    );
  }
  if (claims.iat > nowSeconds + APPROVAL_CLOCK_LEEWAY_SECONDS || claims.exp < claims.iat) {
    throw new ApprovalError(
      'EXPIRED',
      `the approval was issued at ${at(claims.iat)}, in the future by this host's clock (${at(nowSeconds)}); check both clocks and approve again.`,
    );
  }
}

/**
 * Accepts an approval only when the pinned appliance key signed it, it is an approval (`typ`), it names this
 * operator and the sha256 of this exact command, it is in date, and its nonce has never been accepted before.
 */
export async function verifyApproval(
  token: string,
  options: VerifyApprovalOptions,
): Promise<VerifiedApproval> {
  if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) {
    throw new ApprovalError(
      'MALFORMED',
      `the approval is not a token of at most ${MAX_TOKEN_LENGTH} characters; ${APPROVE_AGAIN}.`,
    );
  }
  const { payload, protectedHeader } = await verifiedPayload(token, options.publicKeyPem);
  // Everything below runs without awaiting, so the nonce check and its recording cannot interleave with
  // another verification of the same token.
  if (protectedHeader.typ !== APPROVAL_TOKEN_TYPE) {
    throw new ApprovalError(
      'WRONG_TYPE',
      `the token has type "${protectedHeader.typ ?? '(none)'}", not "${APPROVAL_TOKEN_TYPE}": it is not an approval; the relay must send an approval token.`,
    );
  }
  const claims = parseClaims(payload);
  if (claims.iss !== APPROVAL_ISSUER) {
    throw new ApprovalError(
      'WRONG_TYPE',
      `the token was issued by "${claims.iss}", not "${APPROVAL_ISSUER}": it is not an approval; the relay must send an approval token.`,
    );
  }
  if (claims.aud !== options.operatorId) {
    throw new ApprovalError(
      'WRONG_OPERATOR',
      `the approval is for operator ${claims.aud}, not this one (${options.operatorId}); approve the command for this operator.`,
    );
  }
  const expected = Buffer.from(commandDigest(options.command), 'hex');
  if (!timingSafeEqual(Buffer.from(claims.cmd, 'hex'), expected)) {
    throw new ApprovalError(
      'WRONG_COMMAND',
      'the approval covers a different command from the one requested (their sha256 differ); approve this exact command.',
    );
  }
  const nowSeconds = Math.floor((options.now ?? new Date()).getTime() / 1000);
  checkTimes(claims, nowSeconds);
  if (options.nonces.seen(claims.nonce)) {
    throw new ApprovalError(
      'REPLAYED',
      'this approval has already been used; an approval runs its command once, so approve again to run it again.',
    );
  }
  options.nonces.remember(claims.nonce, new Date((claims.exp + APPROVAL_CLOCK_LEEWAY_SECONDS) * 1000));
  return {
    approver: claims.apr,
    executionId: claims.exe,
    nonce: claims.nonce,
    expiresAt: new Date(claims.exp * 1000),
  };
}
