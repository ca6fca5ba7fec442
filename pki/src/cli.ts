import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ExitCode, list, required, runProgram, type Program, type Values } from '@dropops/protocol/cli';
import { caFiles } from './files.ts';
import { initCa, issueServerCertificate, loadCa, signOperatorCsr, verifyCertificate } from './authority.ts';
import { loadBundleSigningKey } from './bundle-signing.ts';
import { PkiError } from './errors.ts';
import { writePrivateKey } from './keys.ts';
import { spkiPin } from './pin.ts';
import { revokeSerials } from './revocation.ts';

const dirOption = { dir: { type: 'string' as const } };
const caDir = (values: Values) => resolve(typeof values.dir === 'string' ? values.dir : '.dropops-pki');

function readInput(path: string): string {
  if (!existsSync(path)) throw new PkiError('BAD_ARGUMENT', `${path} does not exist.`);
  return readFileSync(path, 'utf8');
}

const program: Program = {
  name: 'dropops-pki',
  summary: "the appliance's internal certificate authority",
  exitCodeOf: (err) => (err instanceof PkiError ? ExitCode.failed : undefined),
  commands: {
    init: {
      summary: 'create a root CA and an issuing CA under it',
      usage: '[--dir DIR] [--trust-domain NAME]',
      details: 'DIR defaults to ./.dropops-pki. Keys are written 0600; an existing CA is never replaced.',
      options: { ...dirOption, 'trust-domain': { type: 'string' } },
      run(values) {
        const dir = caDir(values);
        const ca = initCa(dir, { trustDomain: values['trust-domain'] as string | undefined });
        process.stdout.write(
          `CA created in ${dir}\ntrust domain: ${ca.trustDomain}\npin: sha256/${spkiPin(ca.rootCertPem)}\n` +
            `approval key: ${caFiles(dir).approvalPub}\n`,
        );
      },
    },
    'issue-server': {
      summary: "issue the relay's TLS server certificate",
      usage: '[--dir DIR] --dns NAME --ip ADDRESS [--days N] [--cert FILE] [--key FILE]',
      details:
        'Names and addresses may be repeated or comma-separated. Writes into the CA directory by default.',
      options: {
        ...dirOption,
        dns: { type: 'string', multiple: true },
        ip: { type: 'string', multiple: true },
        days: { type: 'string' },
        cert: { type: 'string' },
        key: { type: 'string' },
      },
      run(values) {
        const ca = loadCa(caDir(values));
        const files = caFiles(ca.dir);
        const issued = issueServerCertificate(ca, {
          dnsNames: list(values, 'dns'),
          ipAddresses: list(values, 'ip'),
          lifetimeDays: values.days ? Number(values.days) : undefined,
        });
        const keyPath = (values.key as string | undefined) ?? files.serverKey;
        const certPath = (values.cert as string | undefined) ?? files.serverCert;
        writePrivateKey(keyPath, issued.privateKeyPem);
        writeFileSync(certPath, issued.chainPem);
        process.stdout.write(
          `server certificate ${issued.serial} written to ${certPath}, key to ${keyPath}\n`,
        );
      },
    },
    'sign-csr': {
      summary: "sign an operator's certificate request",
      usage: '[--dir DIR] --csr FILE --org ORG --operator ID --fingerprint HEX [--hours N]',
      details: 'Prints the certificate (PEM) on standard output. Only the public key is taken from the CSR.',
      options: {
        ...dirOption,
        csr: { type: 'string' },
        org: { type: 'string' },
        operator: { type: 'string' },
        fingerprint: { type: 'string' },
        hours: { type: 'string' },
      },
      run(values) {
        const ca = loadCa(caDir(values));
        const issued = signOperatorCsr(ca, readInput(required(values, 'csr')), {
          org: required(values, 'org'),
          operatorId: required(values, 'operator'),
          fingerprint: required(values, 'fingerprint'),
          lifetimeHours: values.hours ? Number(values.hours) : undefined,
        });
        process.stdout.write(issued.certificatePem);
      },
    },
    pin: {
      summary: "print a certificate's SPKI pin (the root CA's by default)",
      usage: '[--dir DIR] [--cert FILE]',
      options: { ...dirOption, cert: { type: 'string' } },
      run(values) {
        const path = (values.cert as string | undefined) ?? caFiles(caDir(values)).rootCert;
        process.stdout.write(`sha256/${spkiPin(readInput(path))}\n`);
      },
    },
    revoke: {
      summary: 'revoke certificates by serial number',
      usage: '[--dir DIR] SERIAL...',
      options: dirOption,
      run(values, serials) {
        if (serials.length === 0)
          throw new PkiError('BAD_ARGUMENT', 'name at least one serial number to revoke.');
        const dir = loadCa(caDir(values)).dir;
        let added: string[];
        try {
          added = revokeSerials(dir, serials);
        } catch (err) {
          throw new PkiError('BAD_ARGUMENT', (err as Error).message);
        }
        process.stdout.write(
          `revoked ${added.length} new serial(s): ${added.join(' ') || '(all were already revoked)'}\n`,
        );
      },
    },
    verify: {
      summary: 'check that a certificate chains to this CA, is in date and is not revoked',
      usage: '[--dir DIR] --cert FILE',
      options: { ...dirOption, cert: { type: 'string' } },
      run(values) {
        const ca = loadCa(caDir(values));
        const result = verifyCertificate(ca, readInput(required(values, 'cert')));
        process.stdout.write(
          `OK ${result.subject.replace(/\n/g, ', ')} serial ${result.serial} until ${result.notAfter.toISOString()}\n`,
        );
      },
    },
    'bundle-key': {
      summary: 'print the fingerprint of the key that signs offline bundles (created on first use)',
      usage: '[--dir DIR]',
      details:
        'Compare it with the one verify.sh prints on the target host: a key inside a bundle proves nothing alone.',
      options: dirOption,
      run(values) {
        const dir = caDir(values);
        const key = loadBundleSigningKey(dir);
        process.stdout.write(`${key.fingerprint}\n${caFiles(dir).bundleSigningPub}\n`);
      },
    },
  },
};

export const main = (argv: string[]) => runProgram(program, argv);
