import forge from 'node-forge';
import { signCertificationRequest } from './signing.ts';

/** The operator's certificate request: made on its own host from a key that never leaves it. */
export function createCsr(privateKeyPem: string, publicKeyPem: string, commonName: string): string {
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  csr.setSubject([{ name: 'commonName', value: commonName }]);
  signCertificationRequest(csr, privateKeyPem);
  return forge.pki.certificationRequestToPem(csr);
}
