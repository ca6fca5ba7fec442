import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caFiles, initCa, loadBundleSigningKey, PkiError, signManifest } from '@dropops/pki';
import { bin, exec, tempDir } from '../helpers.ts';

describe('the bundle-signing key', () => {
  let dir: ReturnType<typeof tempDir>;
  let caDir: string;
  beforeAll(() => {
    dir = tempDir();
    caDir = join(dir.path, 'pki');
    initCa(caDir);
  });
  afterAll(() => dir?.remove());

  it('is made on first use, owner-only, and the same key afterwards', () => {
    const files = caFiles(caDir);
    const first = loadBundleSigningKey(caDir);
    expect(statSync(files.bundleSigningKey).mode & 0o777).toBe(0o600);
    expect(statSync(files.bundleSigningPub).mode & 0o777).toBe(0o644);
    expect(first.privateKey.asymmetricKeyType).toBe('ed25519');
    expect(loadBundleSigningKey(caDir).fingerprint).toBe(first.fingerprint);
  });

  it('has a fingerprint and signatures that OpenSSL reproduces, and the CLI prints', async () => {
    const key = loadBundleSigningKey(caDir);
    const der = await exec('sh', [
      '-c',
      `openssl pkey -pubin -in '${caFiles(caDir).bundleSigningPub}' -outform DER | sha256sum`,
    ]);
    expect(key.fingerprint).toBe(`sha256:${der.stdout.split(' ')[0]}`);
    const data = join(dir.path, 'data');
    const sig = join(dir.path, 'data.sig');
    writeFileSync(data, 'a  b\n');
    writeFileSync(sig, signManifest(key, Buffer.from('a  b\n')));
    const args = [
      'pkeyutl',
      '-verify',
      '-pubin',
      '-inkey',
      caFiles(caDir).bundleSigningPub,
      '-rawin',
      '-in',
      data,
      '-sigfile',
      sig,
    ];
    expect((await exec('openssl', args)).code).toBe(0);
    writeFileSync(data, 'a  c\n');
    expect((await exec('openssl', args)).code).toBe(1);
    const shown = await exec(bin('dropops-pki'), ['bundle-key', '--dir', caDir]);
    expect(shown.stdout.split('\n')[0]).toBe(key.fingerprint);
  });

  it('refuses a directory without a CA, and a key file that is not Ed25519', () => {
    expect(() => loadBundleSigningKey(join(dir.path, 'nothing'))).toThrow(PkiError);
    const other = join(dir.path, 'other');
    initCa(other);
    writeFileSync(caFiles(other).bundleSigningKey, readFileSync(caFiles(other).issuingKey), { mode: 0o600 });
    expect(() => loadBundleSigningKey(other)).toThrow(
      /holds a rsa key; the bundle-signing key must be Ed25519/,
    );
  });
});
