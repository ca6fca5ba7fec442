import { createHash, createPublicKey, sign } from 'node:crypto';
import { existsSync } from 'node:fs';
import { loadOrCreateEd25519Key, type Ed25519Key } from './ed25519-key.ts';
import { PkiError } from './errors.ts';
import { caFiles } from './files.ts';

/** The appliance's key for offline bundles: it signs a bundle's MANIFEST.sha256, nothing else. */
export interface BundleSigningKey extends Ed25519Key {
  /** `sha256:<hex>` of the public key's SPKI DER: what a person compares on the target host. */
  fingerprint: string;
}

/**
 * The fingerprint a target host can recompute with nothing but OpenSSL and coreutils:
 * `openssl pkey -pubin -in signing-key.pub.pem -outform DER | sha256sum`.
 */
export function publicKeyFingerprint(publicKeyPem: string): string {
  const der = createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(der).digest('hex')}`;
}

/** The bundle-signing key of a CA directory, created on first use beside the CA's other keys. */
export function loadBundleSigningKey(dir: string): BundleSigningKey {
  const files = caFiles(dir);
  if (!existsSync(files.meta)) {
    throw new PkiError('CA_MISSING', `no CA in ${dir}; create one with \`dropops-pki init --dir ${dir}\`.`);
  }
  const key = loadOrCreateEd25519Key(
    { key: files.bundleSigningKey, pub: files.bundleSigningPub },
    'bundle-signing',
  );
  return { ...key, fingerprint: publicKeyFingerprint(key.publicKeyPem) };
}

/** A pure Ed25519 signature over the manifest bytes, as `openssl pkeyutl -verify -rawin` checks it. */
export function signManifest(key: BundleSigningKey, manifest: Buffer): Buffer {
  return sign(null, manifest, key.privateKey);
}
