// The approval token: a compact JWS (EdDSA over Ed25519) that the appliance signs when a human approves a
// state change, and that the operator checks itself with the key it pinned at enrollment.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ExecutionId } from './execution.ts';
import { Freshness } from './wire.ts';

/** The `typ` header of every approval, so no other JWT signed with the same key can pass for one. */
export const APPROVAL_TOKEN_TYPE = 'dropops-approval+jwt';
export const APPROVAL_ISSUER = 'dropops-appliance';
export const APPROVAL_ALGORITHM = 'EdDSA';
export const APPROVAL_DEFAULT_TTL_SECONDS = 10 * 60;
/** The longest life an approval may have; the operator refuses a later `exp` as a forgery of the clock. */
export const APPROVAL_MAX_TTL_SECONDS = 60 * 60;
/** How far the operator's clock may be from the appliance's before an approval reads as expired. */
export const APPROVAL_CLOCK_LEEWAY_SECONDS = 30;

const hex256 = z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 is 64 lowercase hex digits');
const epochSeconds = z.number().int().positive();

/** The claims of an approval. Nothing else may appear in it. */
export const ApprovalClaims = z.strictObject({
  iss: z.string(),
  /** The operator id the approval is for. */
  aud: z.string().min(1).max(200),
  /** sha256 hex of the exact command bytes (UTF-8); see `commandDigest`. */
  cmd: hex256,
  /** The approving human's identity. */
  apr: z.string().min(1).max(320),
  exe: ExecutionId,
  iat: epochSeconds,
  exp: epochSeconds,
  /** At least 128 random bits; the operator accepts each nonce once. */
  nonce: Freshness.shape.nonce,
});
export type ApprovalClaims = z.infer<typeof ApprovalClaims>;

/** What an approval's `cmd` claim holds for a command line: the sha256 of its exact UTF-8 bytes. */
export const commandDigest = (command: string): string =>
  createHash('sha256').update(command, 'utf8').digest('hex');

/**
 * The command line an approval of a `write_file` covers, so the approver approves exactly these bytes at
 * exactly this path over exactly this precondition: `write_file "<path>" sha256:<new> over sha256:<old>`,
 * `over nothing` (the file must not exist) or `over anything` (no check). The path is JSON-quoted.
 */
export function writeFileCommand(path: string, sha256: string, expectedSha256?: string | null): string {
  const over =
    expectedSha256 === undefined
      ? 'anything'
      : expectedSha256 === null
        ? 'nothing'
        : `sha256:${expectedSha256}`;
  return `write_file ${JSON.stringify(path)} sha256:${sha256} over ${over}`;
}

/**
 * The command line an approval of a Ledger Mirror restore covers: `ledger_restore "<path>" to <commit>`, the
 * path JSON-quoted and the revision as sent (a full commit id, optionally with `^` / `~N`, which never moves).
 */
export function restoreFileCommand(path: string, commit: string): string {
  return `ledger_restore ${JSON.stringify(path)} to ${commit}`;
}
