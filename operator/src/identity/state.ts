import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { operatorIdentityOf, writePrivateKey } from '@dropops/pki';
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
