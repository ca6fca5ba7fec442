import { createPrivateKey, sign, type KeyObject } from 'node:crypto';
import forge from 'node-forge';

// node-forge lays out the ASN.1; the RSA signature itself is made by OpenSSL, which is both
// constant-time and far faster than forge's JavaScript big-number code.

const SHA256_WITH_RSA = forge.pki.oids.sha256WithRSAEncryption!;

// Present in node-forge's x509.js but missing from its type definitions.
interface ForgeSigningInternals {
  getTBSCertificate(cert: forge.pki.Certificate): forge.asn1.Asn1;
  getCertificationRequestInfo(csr: forge.pki.CertificateSigningRequest): forge.asn1.Asn1;
}
const internals = forge.pki as unknown as ForgeSigningInternals;
type Signed<T> = T & { tbsCertificate?: forge.asn1.Asn1; certificationRequestInfo?: forge.asn1.Asn1 };

function toKeyObject(key: string | KeyObject): KeyObject {
  return typeof key === 'string' ? createPrivateKey(key) : key;
}

function rsaSha256(der: string, key: string | KeyObject): string {
  return sign('sha256', Buffer.from(der, 'binary'), toKeyObject(key)).toString('binary');
}

export function signCertificate(cert: forge.pki.Certificate, key: string | KeyObject): void {
  cert.signatureOid = SHA256_WITH_RSA;
  cert.siginfo.algorithmOid = SHA256_WITH_RSA;
  const tbs = internals.getTBSCertificate(cert);
  (cert as Signed<typeof cert>).tbsCertificate = tbs;
  cert.signature = rsaSha256(forge.asn1.toDer(tbs).getBytes(), key);
}

export function signCertificationRequest(
  csr: forge.pki.CertificateSigningRequest,
  key: string | KeyObject,
): void {
  csr.signatureOid = SHA256_WITH_RSA;
  csr.siginfo.algorithmOid = SHA256_WITH_RSA;
  const info = internals.getCertificationRequestInfo(csr);
  (csr as Signed<typeof csr>).certificationRequestInfo = info;
  csr.signature = rsaSha256(forge.asn1.toDer(info).getBytes(), key);
}
