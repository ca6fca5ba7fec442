import { join } from 'node:path';

/** Where a CA keeps its files. The root key may be moved offline after `init`: issuing never needs it. */
export function caFiles(dir: string) {
  return {
    dir,
    meta: join(dir, 'ca.json'),
    rootCert: join(dir, 'root.crt.pem'),
    rootKey: join(dir, 'root.key.pem'),
    issuingCert: join(dir, 'issuing.crt.pem'),
    issuingKey: join(dir, 'issuing.key.pem'),
    serverCert: join(dir, 'server.crt.pem'),
    serverKey: join(dir, 'server.key.pem'),
    revoked: join(dir, 'revoked.json'),
    /** Ed25519 key that signs approval tokens; operators pin its public half at enrollment. */
    approvalKey: join(dir, 'approval.key.pem'),
    approvalPub: join(dir, 'approval.pub.pem'),
    /** Ed25519 key that signs the manifests of offline (USB) bundles; created on first use. */
    bundleSigningKey: join(dir, 'bundle-signing.key.pem'),
    bundleSigningPub: join(dir, 'bundle-signing.pub.pem'),
  };
}
