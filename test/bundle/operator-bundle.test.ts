import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initCa, loadBundleSigningKey, signManifest } from '@dropops/pki';
import type { OperatorSlot } from '@dropops/protocol';
import { bin, exec, tempDir } from '../helpers.ts';
import { eventually, startTestAppliance, type TestAppliance } from '../support/appliance.ts';
import { execIn, npmScript, targetEnv } from './support.ts';

const NAME = 'dropops-operator-0.1.0-linux-x64';

describe('the offline operator bundle', () => {
  let relay: TestAppliance;
  let work: ReturnType<typeof tempDir>;
  let caDir: string;
  let build: Awaited<ReturnType<typeof npmScript>>;
  /** The bundle as unpacked from its .tar.gz on the "target host". */
  let bundle: string;
  let env: NodeJS.ProcessEnv;

  const verify = (...args: string[]) => execIn(env, join(bundle, 'verify.sh'), args, bundle);
  const inBundle = (path: string) => join(bundle, path);

  beforeAll(async () => {
    relay = await startTestAppliance('pglite');
    work = tempDir('dropops-bundle-');
    caDir = join(relay.dataDir, 'pki');
    build = await npmScript('bundle:operator', [
      '--out',
      join(work.path, 'dist'),
      '--ca-dir',
      caDir,
      '--relay',
      relay.url,
    ]);
    const target = join(work.path, 'target');
    mkdirSync(target);
    const unpacked = await exec('tar', ['-xzf', join(work.path, 'dist', `${NAME}.tar.gz`), '-C', target]);
    expect(unpacked.stderr).toBe('');
    bundle = join(target, NAME);
    env = await targetEnv(join(work.path, 'host'));
  });
  afterAll(async () => {
    await relay?.stop();
    work?.remove();
  });

  it('builds, signed with the appliance key that dropops-pki bundle-key shows', async () => {
    expect(build.code, build.stderr).toBe(0);
    expect(build.stderr).toMatch(/\[2\/7\] bundling the operator .* s \(/);
    const shown = await exec(bin('dropops-pki'), ['bundle-key', '--dir', caDir]);
    const fingerprint = shown.stdout.split('\n')[0]!;
    expect(fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(fingerprint).toBe(loadBundleSigningKey(caDir).fingerprint);
    expect(build.stdout).toContain(`signed by ${fingerprint}`);

    const manifest = JSON.parse(readFileSync(inBundle('bundle.json'), 'utf8'));
    expect(manifest).toMatchObject({
      node: { version: process.version },
      relay: relay.url,
      caPin: relay.caPin,
    });
    const sbom = JSON.parse(readFileSync(inBundle('sbom.cdx.json'), 'utf8'));
    expect(sbom).toMatchObject({ bomFormat: 'CycloneDX', specVersion: '1.5' });
    const names = sbom.components.map((c: { name: string }) => c.name);
    for (const name of ['node', 'better-sqlite3', 'zod', 'socket.io-client', 'pino', 'operator', 'pki'])
      expect(names).toContain(name);
  });

  it('verifies with openssl and sha256sum only, and against the fingerprint the appliance shows', async () => {
    const { fingerprint } = loadBundleSigningKey(caDir);
    const plain = await verify();
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toContain(`signing key: ${fingerprint}`);
    expect(plain.stdout).toMatch(/OK: signature valid, \d+ files match MANIFEST\.sha256, no unlisted files/);
    expect((await verify('--expect-key', fingerprint)).code).toBe(0);
    expect((await verify('--help')).code).toBe(0);
    expect((await verify('--bogus')).code).toBe(2);
  });

  it('fails, naming the file, when one byte of the bundled operator is flipped', async () => {
    const file = inBundle('lib/operator.mjs');
    const original = readFileSync(file);
    const flipped = Buffer.from(original);
    flipped[1000] = flipped[1000]! ^ 0x01;
    writeFileSync(file, flipped);
    try {
      const result = await verify();
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('FAILED: lib/operator.mjs was changed');
      expect(result.stderr).toContain('NOT intact');
    } finally {
      writeFileSync(file, original);
    }
  });

  it('fails when a file is missing', async () => {
    const addon = inBundle('node_modules/better-sqlite3/build/Release/better_sqlite3.node');
    renameSync(addon, join(work.path, 'addon.node'));
    try {
      const result = await verify();
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(
        'FAILED: node_modules/better-sqlite3/build/Release/better_sqlite3.node is missing',
      );
    } finally {
      renameSync(join(work.path, 'addon.node'), addon);
    }
  });

  it('fails when a file is added, such as a planted enrollment to another relay', async () => {
    writeFileSync(inBundle('lib/extra.mjs'), 'console.log("hi")\n');
    mkdirSync(inBundle('.dropops'));
    writeFileSync(inBundle('.dropops/operator.json'), '{}\n');
    try {
      const result = await verify();
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('FAILED: lib/extra.mjs is not listed in MANIFEST.sha256');
      expect(result.stderr).toContain('FAILED: .dropops/operator.json is not listed in MANIFEST.sha256');
    } finally {
      rmSync(inBundle('lib/extra.mjs'));
      rmSync(inBundle('.dropops'), { recursive: true });
    }
  });

  it('fails when the manifest is edited to match a changed file', async () => {
    const manifest = inBundle('MANIFEST.sha256');
    const original = readFileSync(manifest, 'utf8');
    writeFileSync(manifest, original.replace(/^[0-9a-f]{64}(?= {2}run\.sh$)/m, '0'.repeat(64)));
    try {
      const result = await verify();
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('FAILED: MANIFEST.sha256.sig is not a signature of MANIFEST.sha256');
    } finally {
      writeFileSync(manifest, original);
    }
  });

  it("fails on a signature by another appliance's key, and on a swapped key when the fingerprint is given", async () => {
    const other = join(work.path, 'other-appliance-pki');
    initCa(other);
    const otherKey = loadBundleSigningKey(other);
    const sig = inBundle('MANIFEST.sha256.sig');
    const pub = inBundle('signing-key.pub.pem');
    const manifest = inBundle('MANIFEST.sha256');
    const [originalSig, originalPub] = [readFileSync(sig), readFileSync(pub)];
    const originalManifest = readFileSync(manifest, 'utf8');
    writeFileSync(sig, signManifest(otherKey, readFileSync(manifest)));
    try {
      const resigned = await verify();
      expect(resigned.code).toBe(1);
      expect(resigned.stderr).toContain('FAILED: MANIFEST.sha256.sig is not a signature');

      // The key travels with the bundle, so a forger who swaps it, fixes its line in the manifest and
      // re-signs passes the signature check: only the fingerprint comparison with the appliance catches it.
      writeFileSync(pub, otherKey.publicKeyPem);
      const pubSum = createHash('sha256').update(otherKey.publicKeyPem).digest('hex');
      const forged = originalManifest.replace(/^[0-9a-f]{64}(?= {2}signing-key\.pub\.pem$)/m, pubSum);
      writeFileSync(manifest, forged);
      writeFileSync(sig, signManifest(otherKey, Buffer.from(forged)));
      const swapped = await verify();
      expect(swapped.code).toBe(0);
      expect(swapped.stdout).toContain(`signing key: ${otherKey.fingerprint}`);
      const pinned = await verify('--expect-key', loadBundleSigningKey(caDir).fingerprint);
      expect(pinned.code).toBe(1);
      expect(pinned.stderr).toContain('signing-key.pub.pem is not the expected key');
    } finally {
      writeFileSync(sig, originalSig);
      writeFileSync(pub, originalPub);
      writeFileSync(manifest, originalManifest);
    }
    expect((await verify()).code).toBe(0);
  });

  it('runs with its own node, without tsx or the repository: installs, enrolls, serves the relay, stops', async () => {
    const help = await execIn(env, inBundle('node'), [inBundle('lib/operator.mjs'), '--help'], bundle);
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toContain('dropops-operator: the DropOps agent');
    expect((await execIn(env, inBundle('install.sh'), ['--help'], bundle)).code).toBe(0);
    const noKey = await execIn(env, inBundle('install.sh'), [], bundle);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain('--api-key is required');

    const slot = await relay.admin.call<{ operator: OperatorSlot; apiKey: string }>(
      'POST',
      '/api/operators',
      {
        org: 'acme',
        name: 'air-gapped-1',
      },
    );
    const installDir = join(work.path, 'opt', 'dropops-operator');
    const installed = await execIn(
      env,
      inBundle('install.sh'),
      ['--dir', installDir, '--api-key', slot.apiKey],
      bundle,
    );
    expect(installed.code, installed.stderr).toBe(0);
    expect(installed.stdout).toContain('enrolled as acme/air-gapped-1');
    expect(installed.stdout).toContain(`installed in ${installDir}`);

    const child = spawn(join(installDir, 'run.sh'), [], { cwd: installDir, env, stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await eventually(
      () => relay.hub.isConnected(slot.operator.id),
      'the bundled operator to connect',
      30_000,
    );
    const ping = await relay.admin.call<{ facts: { operatorVersion: string; nodeVersion: string } }>(
      'POST',
      `/api/operators/${slot.operator.id}/ping`,
    );
    expect(ping.facts).toMatchObject({ operatorVersion: '0.1.0', nodeVersion: process.versions.node });
    await relay.admin.call('POST', `/api/operators/${slot.operator.id}/stop`);
    expect(await exited).toBe(0);

    // The run kept its record in the vault, through the shipped better-sqlite3 addon.
    const audit = await execIn(
      env,
      join(installDir, 'node'),
      ['lib/operator.mjs', 'audit', 'verify'],
      installDir,
    );
    expect(audit.code, audit.stdout + audit.stderr).toBe(0);
    expect(audit.stdout).toContain('vault intact');
    // The installed copy still verifies, apart from the operator's own state.
    expect((await execIn(env, join(installDir, 'verify.sh'), ['--installed'], installDir)).code).toBe(0);
    const strict = await execIn(env, join(installDir, 'verify.sh'), [], installDir);
    expect(strict.code).toBe(1);
    expect(strict.stderr).toContain('.dropops/operator.json is not listed');

    // Installing again over it (an upgrade) replaces the program and keeps the enrollment: no key needed.
    const upgraded = await execIn(env, inBundle('install.sh'), ['--dir', installDir], bundle);
    expect(upgraded.code, upgraded.stderr).toBe(0);
    expect(upgraded.stdout).toContain('already enrolled: kept');
    const still = await execIn(
      env,
      join(installDir, 'node'),
      ['lib/operator.mjs', 'audit', 'verify'],
      installDir,
    );
    expect(still.stdout).toContain('vault intact');
  });

  it('refuses to build without a CA directory, saying how to get one', async () => {
    const missing = join(work.path, 'no-such-pki');
    const result = await npmScript('bundle:operator', ['--out', join(work.path, 'x'), '--ca-dir', missing]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(`CA_MISSING: no appliance CA in ${missing}`);
    expect(result.stderr).toContain('dropops-pki init');
    const badRelay = await npmScript('bundle:operator', [
      '--out',
      join(work.path, 'x'),
      '--ca-dir',
      caDir,
      '--relay',
      'http://relay:80',
    ]);
    expect(badRelay.code).toBe(2);
    expect(badRelay.stderr).toContain('--relay must be an https:// URL');
  });
});
