export { enroll, type EnrollOptions } from './enroll.ts';
export { runOperator, type RunOptions, type RunOutcome } from './link/run.ts';
export { OperatorError } from './errors.ts';
export { hostFingerprint, fingerprintOf, hostIdentitySources } from './identity/fingerprint.ts';
export {
  stateFiles,
  readEnrollment,
  readApprovalKey,
  saveApprovalKey,
  pinApprovalKeyOnRenewal,
} from './identity/state.ts';
export {
  verifyApproval,
  ApprovalError,
  type ApprovalErrorCode,
  type VerifyApprovalOptions,
  type VerifiedApproval,
} from './approvals/verify.ts';
export { MemoryNonceStore, type NonceStore } from './approvals/nonces.ts';
export { main } from './cli.ts';
export { pinnedTlsOptions, parseRelayUrl, fetchPinnedRoot, postJson } from './link/pinned-tls.ts';
