import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { initCa, loadBundleSigningKey } from '@dropops/pki';
import { exec, repoRoot, tempDir } from '../helpers.ts';
import { execIn, targetEnv } from './support.ts';

const { version } = JSON.parse(readFileSync(join(repoRoot, 'appliance', 'package.json'), 'utf8')) as {
  version: string;
};
const NAME = `dropops-appliance-${version}`;

/**
 * A stand-in for the docker command line (there is no Docker engine here): "no daemon" answers `docker info`
 * the way the real client does without one; "engine" answers it, logs builds and pulls, and writes a small
 * file for each `docker save -o FILE IMAGE`.
 */
function fakeDocker(dir: string, kind: 'no daemon' | 'engine'): string {
  mkdirSync(dir, { recursive: true });
  const script =
    kind === 'no daemon'
      ? `#!/bin/sh\necho 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?' >&2\nexit 1\n`
      : [
          '#!/bin/sh',
          `echo "$*" >> '${dir}/calls.log'`,
          'case "$1 $2" in',
          '  "info --format") echo 27.0.0 ;;',
          '  "image inspect") exit 1 ;;',
          '  save\\ -o) printf "fake image %s\\n" "$4" > "$3" ;;',
          'esac',
          '',
        ].join('\n');
  writeFileSync(join(dir, 'docker'), script);
  chmodSync(join(dir, 'docker'), 0o755);
  return dir;
}

describe('the offline appliance bundle', () => {
  let work: ReturnType<typeof tempDir>;
  let caDir: string;
  let models: string;
  let env: NodeJS.ProcessEnv;
  const blob = Buffer.from('not really a model, but bytes all the same\n');
  const blobName = `sha256-${createHash('sha256').update(blob).digest('hex')}`;

  const build = (docker: string, args: string[]) =>
    exec('npm', ['run', '-s', 'bundle:appliance', '--', '--ca-dir', caDir, ...args], {
      cwd: repoRoot,
      env: { PATH: `${docker}:${process.env.PATH}` },
    });

  beforeAll(async () => {
    work = tempDir('dropops-appliance-bundle-');
    caDir = join(work.path, 'pki');
    initCa(caDir);
    models = join(work.path, 'ollama-models');
    mkdirSync(join(models, 'blobs'), { recursive: true });
    mkdirSync(join(models, 'manifests/registry.ollama.ai/library/tiny'), { recursive: true });
    writeFileSync(join(models, 'blobs', blobName), blob);
    writeFileSync(join(models, 'manifests/registry.ollama.ai/library/tiny/latest'), '{"layers":[]}\n');
    env = await targetEnv(join(work.path, 'host'));
  });
  afterAll(() => work?.remove());

  it('says plainly that there is no Docker engine, and still writes a signed bundle with the models', async () => {
    const out = join(work.path, 'no-engine');
    const result = await build(fakeDocker(join(work.path, 'no-daemon'), 'no daemon'), [
      '--out',
      out,
      '--models',
      models,
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(
      'no Docker engine answers here (Cannot connect to the Docker daemon at unix:///var/run/docker.sock.',
    );
    expect(result.stderr).toContain('so the bundle carries NO images');
    expect(result.stdout).toContain('images:   NONE');
    expect(result.stdout).toContain(`signed by ${loadBundleSigningKey(caDir).fingerprint}`);

    const target = join(work.path, 'target');
    mkdirSync(target);
    await exec('tar', ['-xf', join(out, `${NAME}.tar`), '-C', target]);
    const bundle = join(target, NAME);
    const manifest = readFileSync(join(bundle, 'MANIFEST.sha256'), 'utf8');
    for (const file of [
      'docker-compose.yml',
      'scripts/load-ollama-models.sh',
      `models/blobs/${blobName}`,
      'models/manifests/registry.ollama.ai/library/tiny/latest',
    ]) {
      expect(manifest).toContain(`  ${file}\n`);
    }
    expect(manifest).not.toMatch(/(^|\/)\.env(\.|\n)/m);
    expect(existsSync(join(bundle, 'images'))).toBe(false);

    const verified = await execIn(env, join(bundle, 'verify.sh'), [], bundle);
    expect(verified.code, verified.stderr).toBe(0);

    // Loading the models needs Docker: the target here has none, and the script says so after verifying.
    const load = join(bundle, 'scripts/load-ollama-models.sh');
    expect((await execIn(env, load, ['--help'], bundle)).code).toBe(0);
    const noDocker = await execIn(env, load, [], bundle);
    expect(noDocker.code).toBe(3);
    expect(noDocker.stdout).toContain('OK: signature valid');
    expect(noDocker.stderr).toContain('needs Docker with the compose plugin');

    const model = join(bundle, 'models', 'blobs', blobName);
    const flipped = Buffer.from(blob);
    flipped[0] = flipped[0]! ^ 0x20;
    writeFileSync(model, flipped);
    const tampered = await execIn(env, join(bundle, 'verify.sh'), [], bundle);
    expect(tampered.code).toBe(1);
    expect(tampered.stderr).toContain(`FAILED: models/blobs/${blobName} was changed`);
    const refused = await execIn(env, load, [], bundle);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('no model was loaded');
  });

  it('with a Docker engine, builds the relay image once, pulls the others and lists every tarball', async () => {
    const docker = fakeDocker(join(work.path, 'engine'), 'engine');
    const out = join(work.path, 'with-engine');
    const result = await build(docker, ['--out', out]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('saving the images (Docker 27.0.0)');

    const compose = parse(readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8')) as {
      services: Record<string, { image: string; build?: unknown }>;
    };
    const services = Object.values(compose.services);
    const built = new Set(services.filter((s) => s.build).map((s) => s.image));
    const pulled = new Set(services.filter((s) => !s.build).map((s) => s.image));
    const calls = readFileSync(join(docker, 'calls.log'), 'utf8').trim().split('\n');
    expect(calls.filter((c) => c.startsWith('build ')).length).toBe(built.size);
    for (const image of pulled) expect(calls).toContain(`pull ${image}`);

    const manifest = readFileSync(join(out, NAME, 'MANIFEST.sha256'), 'utf8');
    for (const image of [...built, ...pulled]) {
      const file = `images/${image.replace(/[^A-Za-z0-9._-]+/g, '_')}.tar`;
      expect(manifest).toContain(`  ${file}\n`);
      expect(readFileSync(join(out, NAME, file), 'utf8')).toBe(`fake image ${image}\n`);
    }
    const verified = await execIn(env, join(out, NAME, 'verify.sh'), [], join(out, NAME));
    expect(verified.code, verified.stderr).toBe(0);
  });

  it('refuses a models directory that is not one', async () => {
    const result = await build(fakeDocker(join(work.path, 'no-daemon'), 'no daemon'), [
      '--out',
      join(work.path, 'bad'),
      '--models',
      work.path,
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('is not an Ollama models directory: it needs blobs/ and manifests/');
  });
});
