import { createCsr, generateKeyPair } from '@dropops/pki';
import { freshNonce, IssuedCertificate, type EnrollRequest } from '@dropops/protocol';
import { OperatorError } from './errors.ts';
import { hostFingerprint } from './identity/fingerprint.ts';
import {
  isEnrolled,
  saveApprovalKey,
  saveCredentials,
  stateFiles,
  type Enrollment,
} from './identity/state.ts';
import { fetchPinnedRoot, parseRelayUrl, pinnedTlsOptions, postJson } from './link/pinned-tls.ts';

export interface EnrollOptions {
  relay: string;
  apiKey: string;
  caPin: string;
  dir: string;
  /** Defaults to this host's fingerprint; tests pass another to play a second machine. */
  fingerprint?: string;
  /** Replace an existing enrollment in `dir`. */
  force?: boolean;
}

/** Makes a key pair here, sends only the CSR and the host fingerprint over TLS pinned to the CA, and stores the result. */
export async function enroll(options: EnrollOptions): Promise<Enrollment> {
  if (!/^(sha256\/)?[A-Za-z0-9+/]{43}=$/.test(options.caPin.trim())) {
    throw new OperatorError(
      'BAD_ARGUMENT',
      'the CA pin looks like sha256/<44 base64 characters>; copy it from the appliance start-up output.',
    );
  }
  if (isEnrolled(options.dir) && !options.force) {
    throw new OperatorError(
      'ALREADY_ENROLLED',
      `${stateFiles(options.dir).dir} already holds an enrollment; pass --force to replace it.`,
    );
  }
  const address = parseRelayUrl(options.relay);
  const rootPem = await fetchPinnedRoot(address, options.caPin);
  const tls = pinnedTlsOptions(address, rootPem, options.caPin);
  const keys = generateKeyPair(2048);
  const request: EnrollRequest = {
    apiKey: options.apiKey,
    csr: createCsr(keys.privateKeyPem, keys.publicKeyPem, 'dropops-operator'),
    fingerprint: options.fingerprint ?? hostFingerprint(),
    ...freshNonce(),
  };
  const issued = IssuedCertificate.parse(await postJson(address, tls, '/api/enroll', request));
  const enrollment: Enrollment = {
    relay: address.url.origin,
    caPin: options.caPin.trim(),
    operatorId: issued.operatorId,
    org: issued.org,
    name: issued.name,
  };
  // Pinned here, over the CA-pinned channel that the API key authenticated; renewal never replaces it.
  saveApprovalKey(options.dir, issued.approvalKey);
  saveCredentials(options.dir, enrollment, {
    keyPem: keys.privateKeyPem,
    certPem: issued.certificate,
    chainPem: issued.chain.join(''),
    rootPem,
  });
  return enrollment;
}
