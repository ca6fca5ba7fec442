import { X509Certificate } from 'node:crypto';
import { statSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  caFiles,
  createCsr,
  generateKeyPair,
  initCa,
  issueServerCertificate,
  operatorIdentityOf,
  PkiError,
  revokeSerials,
  signOperatorCsr,
  spkiPin,
  verifyCertificate,
  type CertificateAuthority,
} from '@dropops/pki';
import { bin, exec, tempDir } from '../helpers.ts';

const fingerprint = 'ab'.repeat(32);
let dir: ReturnType<typeof tempDir>;
let ca: CertificateAuthority;

const strictVerify = async (...args: string[]) => {
  const files = caFiles(ca.dir);
  return exec('openssl', [
    'verify',
    '-x509_strict',
    '-CAfile',
    files.rootCert,
    '-untrusted',
    files.issuingCert,
    ...args,
  ]);
};

beforeAll(() => {
  dir = tempDir();
  ca = initCa(join(dir.path, 'ca'), { trustDomain: 'test.dropops' });
});
afterAll(() => dir.remove());

describe('the CA', () => {
  it('writes private keys 0600 and refuses to initialise over an existing CA', () => {
    const files = caFiles(ca.dir);
    expect(statSync(files.rootKey).mode & 0o777).toBe(0o600);
    expect(statSync(files.issuingKey).mode & 0o777).toBe(0o600);
    expect(() => initCa(ca.dir)).toThrowError(expect.objectContaining({ code: 'CA_EXISTS' }));
  });

  it('issues a root and an issuing CA that pass openssl -x509_strict', async () => {
    const files = caFiles(ca.dir);
    const result = await exec('openssl', [
      'verify',
      '-x509_strict',
      '-CAfile',
      files.rootCert,
      files.issuingCert,
    ]);
    expect(result.stdout).toContain('OK');
    expect(result.code).toBe(0);
  });

  it('issues a server certificate for serverAuth only, with its DNS and IP SANs, that verifies strictly', async () => {
    const server = issueServerCertificate(ca, {
      dnsNames: ['relay.test', 'localhost'],
      ipAddresses: ['127.0.0.1', '::1'],
    });
    const path = join(dir.path, 'server.pem');
    writeFileSync(path, server.certificatePem);
    expect((await strictVerify('-purpose', 'sslserver', path)).code).toBe(0);
    expect((await strictVerify('-purpose', 'sslclient', path)).code).not.toBe(0);
    const cert = new X509Certificate(server.certificatePem);
    expect(cert.subjectAltName).toContain('DNS:relay.test');
    expect(cert.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(cert.checkIP('::1')).toBe('::1');
  });

  it('signs an operator CSR as clientAuth only, naming org, operator and host fingerprint', async () => {
    const keys = generateKeyPair();
    const issued = signOperatorCsr(ca, createCsr(keys.privateKeyPem, keys.publicKeyPem, 'whoever'), {
      org: 'acme',
      operatorId: 'op-1',
      fingerprint,
    });
    const path = join(dir.path, 'operator.pem');
    writeFileSync(path, issued.certificatePem);
    expect((await strictVerify('-purpose', 'sslclient', path)).code).toBe(0);
    expect((await strictVerify('-purpose', 'sslserver', path)).code).not.toBe(0);
    const cert = new X509Certificate(issued.certificatePem);
    expect(operatorIdentityOf(cert)).toEqual({
      trustDomain: 'test.dropops',
      org: 'acme',
      operatorId: 'op-1',
      fingerprint,
    });
    const lifetimeHours = (new Date(cert.validTo).getTime() - Date.now()) / 3_600_000;
    expect(lifetimeHours).toBeGreaterThan(23.9);
    expect(lifetimeHours).toBeLessThanOrEqual(24);
    // The certificate carries the CSR's key, so the private key never had to leave the operator.
    expect(spkiPin(cert)).toBe(spkiPin(new X509Certificate(issued.certificatePem)));
    expect(cert.publicKey.export({ type: 'spki', format: 'pem' })).toBe(keys.publicKeyPem);
  });

  it('signs a CSR made by `openssl req`, taking nothing but its key', async () => {
    const keyPath = join(dir.path, 'openssl.key');
    const csrPath = join(dir.path, 'openssl.csr');
    const made = await exec('openssl', [
      'req',
      '-new',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      keyPath,
      '-out',
      csrPath,
      '-subj',
      '/CN=evil/O=other-org',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
    ]);
    expect(made.code).toBe(0);
    const issued = signOperatorCsr(ca, readFileSync(csrPath, 'utf8'), {
      org: 'acme',
      operatorId: 'op-2',
      fingerprint,
    });
    const cert = new X509Certificate(issued.certificatePem);
    expect(cert.ca).toBe(false);
    expect(cert.subject).toBe('O=acme\nCN=op-2');
  });

  it('refuses a tampered CSR, a short key and a non-RSA key with typed errors', async () => {
    const keys = generateKeyPair();
    const csr = createCsr(keys.privateKeyPem, keys.publicKeyPem, 'x');
    const body = csr.split('\n');
    body[3] = body[3]!.slice(0, 10) + (body[3]![10] === 'A' ? 'B' : 'A') + body[3]!.slice(11);
    expect(() => signOperatorCsr(ca, body.join('\n'), { org: 'a', operatorId: 'b', fingerprint })).toThrow(
      PkiError,
    );
    const ecKey = join(dir.path, 'ec.key');
    const ecCsr = join(dir.path, 'ec.csr');
    await exec('openssl', [
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      ecKey,
      '-out',
      ecCsr,
      '-subj',
      '/CN=x',
    ]);
    expect(() =>
      signOperatorCsr(ca, readFileSync(ecCsr, 'utf8'), { org: 'a', operatorId: 'b', fingerprint }),
    ).toThrowError(expect.objectContaining({ code: 'UNSUPPORTED_KEY' }));
    const shortKey = join(dir.path, 'short.key');
    const shortCsr = join(dir.path, 'short.csr');
    await exec('openssl', [
      'req',
      '-new',
      '-newkey',
      'rsa:1024',
      '-nodes',
      '-keyout',
      shortKey,
      '-out',
      shortCsr,
      '-subj',
      '/CN=x',
    ]);
    expect(() =>
      signOperatorCsr(ca, readFileSync(shortCsr, 'utf8'), { org: 'a', operatorId: 'b', fingerprint }),
    ).toThrowError(expect.objectContaining({ code: 'UNSUPPORTED_KEY' }));
  });

  it('verifies by chain, date and revocation list, and rejects a certificate from a rogue CA', () => {
    const keys = generateKeyPair();
    const csr = createCsr(keys.privateKeyPem, keys.publicKeyPem, 'x');
    const issued = signOperatorCsr(ca, csr, { org: 'acme', operatorId: 'op-3', fingerprint });
    expect(verifyCertificate(ca, issued.certificatePem).serial).toBe(issued.serial);
    expect(() =>
      verifyCertificate(ca, issued.certificatePem, new Date(Date.now() + 25 * 3_600_000)),
    ).toThrowError(expect.objectContaining({ code: 'CERT_EXPIRED' }));
    revokeSerials(ca.dir, [issued.serial.toUpperCase()]);
    expect(() => verifyCertificate(ca, issued.certificatePem)).toThrowError(
      expect.objectContaining({ code: 'CERT_REVOKED' }),
    );

    const rogueDir = tempDir();
    try {
      const rogue = initCa(join(rogueDir.path, 'ca'), { trustDomain: 'test.dropops' });
      const forged = signOperatorCsr(rogue, csr, { org: 'acme', operatorId: 'op-3', fingerprint });
      expect(() => verifyCertificate(ca, forged.certificatePem)).toThrowError(
        expect.objectContaining({ code: 'CHAIN_INVALID' }),
      );
    } finally {
      rogueDir.remove();
    }
  });
});

describe('dropops-pki', () => {
  it('runs init, pin, issue-server, sign-csr, revoke and verify end to end with exit codes', async () => {
    const cli = bin('dropops-pki');
    const caDir = join(dir.path, 'cli-ca');
    const init = await exec(cli, ['init', '--dir', caDir]);
    expect(init.code).toBe(0);
    const pin = await exec(cli, ['pin', '--dir', caDir]);
    expect(init.stdout).toContain(pin.stdout.trim());
    expect(pin.stdout).toMatch(/^sha256\/[A-Za-z0-9+/]{43}=\n$/);
    expect((await exec(cli, ['init', '--dir', caDir])).code).toBe(1);
    expect(
      (await exec(cli, ['issue-server', '--dir', caDir, '--dns', 'localhost', '--ip', '127.0.0.1'])).code,
    ).toBe(0);
    expect((await exec(cli, ['issue-server', '--dir', caDir, '--dns', 'localhost'])).stderr).toContain(
      'KEY_EXISTS',
    );
    // The written chain is what the relay presents: leaf, issuing CA, and the root an operator pins.
    const chain =
      readFileSync(join(caDir, 'server.crt.pem'), 'utf8').match(/-----BEGIN CERTIFICATE-----/g) ?? [];
    expect(chain).toHaveLength(3);
    expect(readFileSync(join(caDir, 'server.crt.pem'), 'utf8')).toContain(
      readFileSync(join(caDir, 'root.crt.pem'), 'utf8').trim(),
    );

    const keyPath = join(dir.path, 'cli.key');
    const csrPath = join(dir.path, 'cli.csr');
    await exec('openssl', [
      'req',
      '-new',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      keyPath,
      '-out',
      csrPath,
      '-subj',
      '/CN=x',
    ]);
    const signed = await exec(cli, [
      'sign-csr',
      '--dir',
      caDir,
      '--csr',
      csrPath,
      '--org',
      'acme',
      '--operator',
      'op-9',
      '--fingerprint',
      fingerprint,
    ]);
    expect(signed.code).toBe(0);
    const certPath = join(dir.path, 'cli.pem');
    writeFileSync(certPath, signed.stdout);
    expect((await exec(cli, ['verify', '--dir', caDir, '--cert', certPath])).code).toBe(0);
    const serial = new X509Certificate(signed.stdout).serialNumber;
    expect((await exec(cli, ['revoke', '--dir', caDir, serial])).code).toBe(0);
    const refused = await exec(cli, ['verify', '--dir', caDir, '--cert', certPath]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('CERT_REVOKED');
    expect(refused.stderr).not.toMatch(/\n\s+at /);
    expect((await exec(cli, ['sign-csr', '--dir', caDir])).code).toBe(2);
    expect((await exec(cli, ['frobnicate'])).code).toBe(2);
  });
});
