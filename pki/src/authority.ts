import { createPrivateKey, createPublicKey, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import forge from 'node-forge';
import { loadApprovalKey, type ApprovalKey } from './approval-key.ts';
import { PkiError } from './errors.ts';
import { caFiles } from './files.ts';
import { generateKeyPair, writePrivateKey } from './keys.ts';
import { signCertificate } from './signing.ts';
import { operatorUri, fingerprintUri } from './identity.ts';
import { normaliseSerial, isRevoked } from './revocation.ts';

export interface CertificateAuthority {
  dir: string;
  trustDomain: string;
  rootCertPem: string;
  issuingCertPem: string;
  issuingKey: KeyObject;
  /** Signs approval tokens; operators receive its public half over the enrollment channel and pin it. */
  approvalKey: ApprovalKey;
}

export interface IssuedLeaf {
  certificatePem: string;
  serial: string;
  notAfter: Date;
}

const DAY_MS = 24 * 60 * 60 * 1000;
/** Certificates start a little in the past so a host whose clock runs slightly behind still accepts them. */
const BACKDATE_MS = 5 * 60 * 1000;

type Extension = Record<string, unknown>;

interface LeafSpec {
  subject: forge.pki.CertificateField[];
  publicKeyPem: string;
  issuer: { certPem: string; key: string | KeyObject } | 'self';
  selfKey?: string;
  lifetimeMs: number;
  extensions: Extension[];
}

/** A positive serial of 126 random bits whose first byte has no leading zero, so every tool prints it the same way. */
function newSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x3f) | 0x40;
  return bytes.toString('hex');
}

function build(spec: LeafSpec): IssuedLeaf {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(spec.publicKeyPem);
  cert.serialNumber = newSerial();
  const now = Date.now();
  cert.validity.notBefore = new Date(now - BACKDATE_MS);
  cert.validity.notAfter = new Date(now + spec.lifetimeMs);
  cert.setSubject(spec.subject);
  let signingKey: string | KeyObject;
  let authorityKeyId: string;
  if (spec.issuer === 'self') {
    cert.setIssuer(spec.subject);
    signingKey = spec.selfKey!;
    authorityKeyId = cert.generateSubjectKeyIdentifier().getBytes();
  } else {
    const issuer = forge.pki.certificateFromPem(spec.issuer.certPem);
    cert.setIssuer(issuer.subject.attributes);
    signingKey = spec.issuer.key;
    authorityKeyId = issuer.generateSubjectKeyIdentifier().getBytes();
  }
  cert.setExtensions([
    ...spec.extensions,
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: authorityKeyId },
  ]);
  signCertificate(cert, signingKey);
  return {
    certificatePem: forge.pki.certificateToPem(cert),
    serial: cert.serialNumber,
    notAfter: cert.validity.notAfter,
  };
}

const caExtensions = (pathLen: number): Extension[] => [
  { name: 'basicConstraints', cA: true, pathLenConstraint: pathLen, critical: true },
  { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
];

export interface InitOptions {
  trustDomain?: string;
  rootLifetimeDays?: number;
  issuingLifetimeDays?: number;
}

/** Creates a root CA and an issuing CA under it. Refuses to touch a directory that already holds a CA. */
export function initCa(dir: string, options: InitOptions = {}): CertificateAuthority {
  const files = caFiles(dir);
  if (existsSync(files.meta) || existsSync(files.rootCert) || existsSync(files.issuingKey)) {
    throw new PkiError(
      'CA_EXISTS',
      `${dir} already holds a CA; use another directory or remove this one deliberately.`,
    );
  }
  const trustDomain = options.trustDomain ?? 'dropops.local';
  if (!/^[a-z0-9.-]{1,253}$/.test(trustDomain)) {
    throw new PkiError('BAD_ARGUMENT', `trust domain "${trustDomain}" must be a lowercase DNS-style name.`);
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const rootKeys = generateKeyPair(3072);
  const rootSubject = [
    { name: 'organizationName', value: 'DropOps' },
    { name: 'commonName', value: `DropOps Root CA (${trustDomain})` },
  ];
  const root = build({
    subject: rootSubject,
    publicKeyPem: rootKeys.publicKeyPem,
    issuer: 'self',
    selfKey: rootKeys.privateKeyPem,
    lifetimeMs: (options.rootLifetimeDays ?? 3650 * 2) * DAY_MS,
    extensions: caExtensions(1),
  });
  const issuingKeys = generateKeyPair(3072);
  const issuing = build({
    subject: [
      { name: 'organizationName', value: 'DropOps' },
      { name: 'commonName', value: `DropOps Issuing CA (${trustDomain})` },
    ],
    publicKeyPem: issuingKeys.publicKeyPem,
    issuer: { certPem: root.certificatePem, key: rootKeys.privateKeyPem },
    lifetimeMs: (options.issuingLifetimeDays ?? 365 * 5) * DAY_MS,
    extensions: caExtensions(0),
  });
  writePrivateKey(files.rootKey, rootKeys.privateKeyPem);
  writePrivateKey(files.issuingKey, issuingKeys.privateKeyPem);
  loadApprovalKey(dir);
  writeFileSync(files.rootCert, root.certificatePem, { mode: 0o644 });
  writeFileSync(files.issuingCert, issuing.certificatePem, { mode: 0o644 });
  writeFileSync(
    files.meta,
    JSON.stringify({ trustDomain, createdAt: new Date().toISOString() }, null, 2) + '\n',
  );
  return loadCa(dir);
}

/** Loads a CA; a directory made before approval keys existed gets its approval key here. */
export function loadCa(dir: string): CertificateAuthority {
  const files = caFiles(dir);
  if (!existsSync(files.meta) || !existsSync(files.issuingCert) || !existsSync(files.issuingKey)) {
    throw new PkiError('CA_MISSING', `no CA in ${dir}; create one with \`dropops-pki init --dir ${dir}\`.`);
  }
  const meta = JSON.parse(readFileSync(files.meta, 'utf8')) as { trustDomain: string };
  return {
    dir,
    trustDomain: meta.trustDomain,
    rootCertPem: readFileSync(files.rootCert, 'utf8'),
    issuingCertPem: readFileSync(files.issuingCert, 'utf8'),
    issuingKey: createPrivateKey(readFileSync(files.issuingKey)),
    approvalKey: loadApprovalKey(dir),
  };
}

export interface ServerCertificateOptions {
  dnsNames: string[];
  ipAddresses: string[];
  lifetimeDays?: number;
}

export interface ServerCredentials extends IssuedLeaf {
  privateKeyPem: string;
  /** What the relay presents: the leaf, the issuing CA and the root, so an operator finds its pinned root. */
  chainPem: string;
}

/** The relay's TLS certificate: serverAuth only, with every name and address a client may dial. */
export function issueServerCertificate(
  ca: CertificateAuthority,
  options: ServerCertificateOptions,
): ServerCredentials {
  if (options.dnsNames.length + options.ipAddresses.length === 0) {
    throw new PkiError('BAD_ARGUMENT', 'a server certificate needs at least one --dns name or --ip address.');
  }
  for (const ip of options.ipAddresses) {
    if (!isIP(ip)) throw new PkiError('BAD_ARGUMENT', `"${ip}" is not an IP address.`);
  }
  const keys = generateKeyPair(2048);
  const leaf = build({
    subject: [
      { name: 'organizationName', value: 'DropOps' },
      { name: 'commonName', value: options.dnsNames[0] ?? options.ipAddresses[0]! },
    ],
    publicKeyPem: keys.publicKeyPem,
    issuer: { certPem: ca.issuingCertPem, key: ca.issuingKey },
    lifetimeMs: (options.lifetimeDays ?? 397) * DAY_MS,
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          ...options.dnsNames.map((value) => ({ type: 2, value })),
          ...options.ipAddresses.map((ip) => ({ type: 7, ip })),
        ],
      },
    ],
  });
  return {
    ...leaf,
    privateKeyPem: keys.privateKeyPem,
    chainPem: leaf.certificatePem + ca.issuingCertPem + ca.rootCertPem,
  };
}

export interface OperatorCertificateOptions {
  org: string;
  operatorId: string;
  fingerprint: string;
  lifetimeHours?: number;
}

const MIN_RSA_BITS = 2048;

/** Parses and checks a CSR: well-formed, RSA of at least 2048 bits, signed by the key it carries. */
export function readCsr(csrPem: string): forge.pki.CertificateSigningRequest {
  let csr: forge.pki.CertificateSigningRequest;
  try {
    csr = forge.pki.certificationRequestFromPem(csrPem);
  } catch (err) {
    const text = String((err as Error).message ?? err);
    if (/OID is not RSA/i.test(text)) {
      throw new PkiError(
        'UNSUPPORTED_KEY',
        'the CSR carries a non-RSA key; create it with an RSA key of 2048 bits or more.',
      );
    }
    throw new PkiError(
      'BAD_CSR',
      'the CSR is not a readable PEM certificate request; recreate it with `openssl req -new`.',
    );
  }
  const key = csr.publicKey as forge.pki.rsa.PublicKey | null;
  if (!key || key.n.bitLength() < MIN_RSA_BITS) {
    throw new PkiError(
      'UNSUPPORTED_KEY',
      `the CSR's RSA key is shorter than ${MIN_RSA_BITS} bits; use a longer key.`,
    );
  }
  let signatureValid = false;
  try {
    signatureValid = csr.verify();
  } catch {
    signatureValid = false;
  }
  if (!signatureValid) {
    throw new PkiError(
      'BAD_CSR',
      'the CSR signature does not match its key; it was altered or made wrongly.',
    );
  }
  return csr;
}

/**
 * Signs an operator's CSR. Only the CSR's public key is taken from it: subject, names and usages come from
 * the relay's own records, so a CSR cannot ask for another identity or for server or CA powers.
 */
export function signOperatorCsr(
  ca: CertificateAuthority,
  csrPem: string,
  options: OperatorCertificateOptions,
): IssuedLeaf {
  const csr = readCsr(csrPem);
  const publicKeyPem = forge.pki.publicKeyToPem(csr.publicKey as forge.pki.rsa.PublicKey);
  return build({
    subject: [
      { name: 'organizationName', value: options.org },
      { name: 'commonName', value: options.operatorId },
    ],
    publicKeyPem,
    issuer: { certPem: ca.issuingCertPem, key: ca.issuingKey },
    lifetimeMs: (options.lifetimeHours ?? 24) * 60 * 60 * 1000,
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', clientAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 6, value: operatorUri(ca.trustDomain, options.org, options.operatorId) },
          { type: 6, value: fingerprintUri(options.fingerprint) },
        ],
      },
    ],
  });
}

export interface VerifiedCertificate {
  subject: string;
  serial: string;
  notAfter: Date;
  subjectAltName: string | undefined;
}

/** Checks a certificate the way the relay does: issued by this CA's issuing CA, in date, not revoked. */
export function verifyCertificate(
  ca: CertificateAuthority,
  certPem: string,
  now = new Date(),
): VerifiedCertificate {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch {
    throw new PkiError('BAD_CERTIFICATE', 'that is not a readable PEM certificate.');
  }
  const issuing = new X509Certificate(ca.issuingCertPem);
  const root = new X509Certificate(ca.rootCertPem);
  const chainOk =
    (cert.checkIssued(issuing) && cert.verify(issuing.publicKey) && issuing.verify(root.publicKey)) ||
    (cert.fingerprint256 === issuing.fingerprint256 && issuing.verify(root.publicKey)) ||
    (cert.fingerprint256 === root.fingerprint256 && root.verify(createPublicKey(root.publicKey)));
  if (!chainOk) {
    throw new PkiError(
      'CHAIN_INVALID',
      `the certificate ${cert.subject.replace(/\n/g, ', ')} was not issued by this CA.`,
    );
  }
  if (now < new Date(cert.validFrom) || now > new Date(cert.validTo)) {
    throw new PkiError(
      'CERT_EXPIRED',
      `the certificate is valid from ${cert.validFrom} to ${cert.validTo}, not now.`,
    );
  }
  const serial = normaliseSerial(cert.serialNumber);
  if (isRevoked(ca.dir, serial)) {
    throw new PkiError('CERT_REVOKED', `certificate ${serial} has been revoked.`);
  }
  return {
    subject: cert.subject,
    serial,
    notAfter: new Date(cert.validTo),
    subjectAltName: cert.subjectAltName,
  };
}
