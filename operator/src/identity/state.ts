import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { operatorIdentityOf, writePrivateKey } from '@dropops/pki';
import { parseApprovalKey } from '../approvals/key.ts';
import { OperatorError } from '../errors.ts';

/** What enrollment leaves in `.dropops/`: the pinned root, the relay's address, and this host's key and certificate. */
export interface Enrollment {
  relay: string;
  caPin: string;
  operatorId: string;
  org: string;
  name: string;
}

export interface Credentials {
  keyPem: string;
  certPem: string;
  chainPem: string;
  rootPem: string;
}

export function stateFiles(dir: string) {
  const root = resolve(dir);
  return {
    dir: root,
    enrollment: join(root, 'operator.json'),
    key: join(root, 'operator.key.pem'),
    cert: join(root, 'operator.crt.pem'),
    chain: join(root, 'chain.pem'),
    root: join(root, 'ca.pem'),
    /** The appliance's approval key, pinned at enrollment; only a new enrollment replaces it. */
    approvalKey: join(root, 'approval.pub.pem'),
    lock: join(root, 'run.lock'),
  };
}

export function isEnrolled(dir: string): boolean {
  return existsSync(stateFiles(dir).enrollment);
}

export function readEnrollment(dir: string): { enrollment: Enrollment; credentials: Credentials } {
  const files = stateFiles(dir);
  if (!existsSync(files.enrollment) || !existsSync(files.key) || !existsSync(files.cert)) {
    throw new OperatorError(
      'NOT_ENROLLED',
      `no enrollment in ${files.dir}; run \`dropops-operator enroll\` first.`,
    );
  }
  return {
    enrollment: JSON.parse(readFileSync(files.enrollment, 'utf8')) as Enrollment,
    credentials: {
      keyPem: readFileSync(files.key, 'utf8'),
      certPem: readFileSync(files.cert, 'utf8'),
      chainPem: readFileSync(files.chain, 'utf8'),
      rootPem: readFileSync(files.root, 'utf8'),
    },
  };
}

/** The host fingerprint the certificate was issued for. */
export function certificateFingerprint(certPem: string): string | null {
  return operatorIdentityOf(new X509Certificate(certPem))?.fingerprint ?? null;
}

function replaceFile(path: string, content: string, mode: number): void {
  writeFileSync(`${path}.tmp`, content, { mode });
  renameSync(`${path}.tmp`, path);
}

/**
 * Stores a new key and certificate. Each file is written beside its target and renamed over it, so an
 * interrupted write leaves the previous, still valid pair in place.
 */
export function saveCredentials(dir: string, enrollment: Enrollment, credentials: Credentials): void {
  const files = stateFiles(dir);
  mkdirSync(files.dir, { recursive: true, mode: 0o700 });
  rmSync(`${files.key}.tmp`, { force: true });
  writePrivateKey(`${files.key}.tmp`, credentials.keyPem);
  renameSync(`${files.key}.tmp`, files.key);
  replaceFile(files.cert, credentials.certPem, 0o600);
  replaceFile(files.chain, credentials.chainPem, 0o600);
  replaceFile(files.root, credentials.rootPem, 0o600);
  replaceFile(files.enrollment, JSON.stringify(enrollment, null, 2) + '\n', 0o600);
}

function approvalKeyOf(pem: string) {
  const key = parseApprovalKey(pem);
  if (!key) {
    throw new OperatorError(
      'BAD_APPROVAL_KEY',
      'the appliance sent an approval key that is not an Ed25519 public key; upgrade the appliance, then enroll again.',
    );
  }
  return key;
}

/** Pins the approval key at enrollment. Written before `operator.json`, so an interrupted enrollment is no enrollment. */
export function saveApprovalKey(dir: string, pem: string): void {
  approvalKeyOf(pem);
  const files = stateFiles(dir);
  mkdirSync(files.dir, { recursive: true, mode: 0o700 });
  replaceFile(files.approvalKey, pem, 0o600);
}

/** The pinned approval key (SPKI PEM), which the operator checks every approval against. */
export function readApprovalKey(dir: string): string {
  const path = stateFiles(dir).approvalKey;
  if (!existsSync(path)) {
    throw new OperatorError(
      'NOT_ENROLLED',
      `no approval key is pinned in ${stateFiles(dir).dir}; enroll again with \`dropops-operator enroll --force\`.`,
    );
  }
  return readFileSync(path, 'utf8');
}

/**
 * What renewal does with the approval key the relay sends: `pinned` when an enrollment made before approval
 * keys existed had none (the renewal channel is as authenticated as enrollment), `unchanged` when it is the
 * pinned key, `refused` when it differs, in which case the pinned key stays: a new key needs a new enrollment.
 */
export function pinApprovalKeyOnRenewal(dir: string, offeredPem: string): 'pinned' | 'unchanged' | 'refused' {
  const path = stateFiles(dir).approvalKey;
  if (!existsSync(path)) {
    saveApprovalKey(dir, offeredPem);
    return 'pinned';
  }
  const pinned = parseApprovalKey(readFileSync(path, 'utf8'));
  const offered = parseApprovalKey(offeredPem);
  return pinned && offered && pinned.equals(offered) ? 'unchanged' : 'refused';
}
