import { existsSync, readFileSync, statSync } from 'node:fs';
import { cp, mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { composeImages, dockerEngine, saveImage } from './docker.ts';
import { BundleError } from './errors.ts';
import { listFiles } from './manifest.ts';
import { readSigningAppliance } from './operator-bundle.ts';
import { sealBundle, stage } from './output.ts';
import { repoRoot } from './paths.ts';
import { stepProgress, type Progress } from './progress.ts';
import { writeTemplate } from './templates.ts';

export interface ApplianceBundleOptions {
  outDir: string;
  /** The signing appliance's CA directory (`<data-dir>/pki`). */
  caDir: string;
  /** An Ollama models directory (`blobs/` and `manifests/`, as in ~/.ollama/models) to carry along. */
  models?: string;
  progress?: Progress;
}

export interface ApplianceBundle {
  dir: string;
  archive: string;
  archiveBytes: number;
  files: number;
  bytes: number;
  fingerprint: string;
  /** The image tarballs written, or why there are none. */
  images: string[];
  imagesSkipped?: string;
  /** Compose sources that are not in the repository yet. */
  missing: string[];
  modelFiles: number;
  seconds: number;
}

const STEPS = 7;
/** What the compose install is made of; docker-compose.yml is required, the rest is copied when present. */
const COMPOSE_SOURCES = ['docker-compose.yml', 'compose', 'scripts', 'docs/INSTALL.md'];
/** Never carried: secrets (.env is generated on the target) and installed packages. */
const excluded = (path: string) => /^\.env(\.|$)/.test(basename(path)) || basename(path) === 'node_modules';

function checkModelsDir(dir: string): void {
  const isDir = (path: string) => existsSync(path) && statSync(path).isDirectory();
  if (!isDir(join(dir, 'blobs')) || !isDir(join(dir, 'manifests'))) {
    throw new BundleError(
      'BAD_ARGUMENT',
      `--models ${dir} is not an Ollama models directory: it needs blobs/ and manifests/ ` +
        '(as in ~/.ollama/models after `ollama pull <model>`).',
    );
  }
}

/** Builds `dropops-appliance-<version>/` and its .tar: compose files, images when Docker answers, models. */
export async function buildApplianceBundle(options: ApplianceBundleOptions): Promise<ApplianceBundle> {
  const started = performance.now();
  const progress = options.progress ?? stepProgress(STEPS);
  if (!existsSync(join(repoRoot, 'docker-compose.yml'))) {
    throw new BundleError(
      'SOURCE_MISSING',
      `${join(repoRoot, 'docker-compose.yml')} is missing, so there is no compose install to bundle.`,
    );
  }
  if (options.models) checkModelsDir(options.models);
  const { version } = JSON.parse(readFileSync(join(repoRoot, 'appliance', 'package.json'), 'utf8')) as {
    version: string;
  };
  const name = `dropops-appliance-${version}`;

  const { key } = await progress.step(
    `reading the bundle-signing key from ${options.caDir}`,
    () => readSigningAppliance(options.caDir),
    (r) => `signing key ${r.key.fingerprint}`,
  );
  const out = await stage(options.outDir, name);
  try {
    const dir = out.dir;
    const missing = await progress.step(
      'copying docker-compose.yml, compose/, scripts/ and docs/INSTALL.md',
      async () => {
        const absent: string[] = [];
        for (const source of COMPOSE_SOURCES) {
          if (!existsSync(join(repoRoot, source))) {
            absent.push(source);
            continue;
          }
          await mkdir(dirname(join(dir, source)), { recursive: true });
          await cp(join(repoRoot, source), join(dir, source), {
            recursive: true,
            filter: (path) => !excluded(path),
          });
        }
        return absent;
      },
      (absent) =>
        absent.length ? `not in the repository yet, left out: ${absent.join(', ')}` : 'all present',
    );

    const engine = await dockerEngine();
    const images: string[] = [];
    const imagesSkipped = engine.ok
      ? undefined
      : `no Docker engine answers here (${engine.reason}), so the bundle carries NO images`;
    await progress.step(
      engine.ok ? `saving the images (Docker ${engine.version})` : 'container images',
      async () => {
        if (!engine.ok) return;
        await mkdir(join(dir, 'images'));
        for (const image of composeImages(join(repoRoot, 'docker-compose.yml'))) {
          progress.note(`${image.build ? 'building' : 'saving'} ${image.image}`);
          images.push(await saveImage(image, join(dir, 'images')));
        }
      },
      () => (imagesSkipped ? 'none: no Docker engine' : `${images.length} images`),
    );
    if (imagesSkipped) {
      progress.note(
        `${imagesSkipped}: the target cannot start the appliance from it alone. Build the bundle again on a ` +
          'host where `docker info` works (it builds the relay image and pulls the others).',
      );
    }

    const modelFiles = await progress.step(
      options.models ? `copying the Ollama models from ${options.models}` : 'Ollama models',
      async () => {
        if (!options.models) return 0;
        await cp(options.models, join(dir, 'models'), { recursive: true, verbatimSymlinks: true });
        return (await listFiles(join(dir, 'models'))).length;
      },
      (count) => (options.models ? `${count} files` : 'none asked for (--models DIR)'),
    );

    await progress.step('writing verify.sh, README.txt and bundle.json', async () => {
      await writeTemplate('verify.sh', join(dir, 'verify.sh'));
      await writeTemplate('appliance-README.txt', join(dir, 'README.txt'), {
        VERSION: version,
        IMAGES_NOTE: images.length
          ? `the container images (docker save), ${images.length} tarballs`
          : 'NOT INCLUDED: no Docker engine answered when this bundle was built',
        MODELS_NOTE: modelFiles ? `Ollama model files (${modelFiles})` : 'none (built without --models)',
      });
      const manifest = {
        kind: 'dropops-appliance',
        version,
        images,
        imagesSkipped: imagesSkipped ?? null,
        imageArch: images.length ? process.arch : null,
        models: modelFiles,
        missingSources: missing,
        signingKey: key.fingerprint,
        builtAt: new Date().toISOString(),
      };
      await writeFile(join(dir, 'bundle.json'), JSON.stringify(manifest, null, 2) + '\n');
    });
    // Not gzipped: model weights do not compress, and gzip over gigabytes of image layers takes minutes.
    const sealed = await sealBundle(out, key, progress, false);
    return {
      ...sealed,
      fingerprint: key.fingerprint,
      images,
      imagesSkipped,
      missing,
      modelFiles,
      seconds: (performance.now() - started) / 1000,
    };
  } catch (err) {
    await out.abandon();
    throw err;
  }
}
