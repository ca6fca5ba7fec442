import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { BundleError } from './errors.ts';

const run = promisify(execFile);

export type Engine = { ok: true; version: string } | { ok: false; reason: string };

/** Whether a Docker engine answers here (`docker info`), and if not, the reason in Docker's own words. */
export async function dockerEngine(): Promise<Engine> {
  try {
    const { stdout } = await run('docker', ['info', '--format', '{{.ServerVersion}}'], { timeout: 20_000 });
    return { ok: true, version: stdout.trim() };
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string; killed?: boolean };
    if (e.code === 'ENOENT') return { ok: false, reason: 'the docker command is not installed' };
    if (e.killed) return { ok: false, reason: '`docker info` did not answer within 20 s' };
    const said = (e.stderr ?? '')
      .split('\n')
      .find((line) => line.trim() !== '' && !/^(Client|Server):/.test(line));
    return { ok: false, reason: said?.trim() ?? `\`docker info\` failed (${e.message})` };
  }
}

export interface ComposeImage {
  image: string;
  /** Set for the images compose builds itself (the relay); the others are pulled. */
  build?: { context: string; dockerfile: string };
}

interface ComposeService {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
}

/** The images a compose file runs, each once, with how to make the ones it builds. */
export function composeImages(composeFile: string): ComposeImage[] {
  const base = resolve(composeFile, '..');
  const spec = parse(readFileSync(composeFile, 'utf8')) as { services?: Record<string, ComposeService> };
  const images = new Map<string, ComposeImage>();
  for (const [name, service] of Object.entries(spec.services ?? {})) {
    if (!service.image) {
      throw new BundleError(
        'BAD_ARGUMENT',
        `service "${name}" in ${composeFile} has no image: name; give it one so the bundle can carry it.`,
      );
    }
    const build =
      typeof service.build === 'string' ? { context: service.build } : (service.build ?? undefined);
    const known = images.get(service.image);
    if (known?.build || (known && !build)) continue;
    images.set(service.image, {
      image: service.image,
      ...(build
        ? {
            build: {
              context: resolve(base, build.context ?? '.'),
              dockerfile: resolve(base, build.context ?? '.', build.dockerfile ?? 'Dockerfile'),
            },
          }
        : {}),
    });
  }
  return [...images.values()];
}

/** `postgres:17.6-bookworm` → `postgres_17.6-bookworm.tar`: one tarball per image, named after it. */
export const imageFileName = (image: string) => `${image.replace(/[^A-Za-z0-9._-]+/g, '_')}.tar`;

/** Runs docker with its output on our stderr (builds and pulls print their own progress). */
function docker(args: string[]): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('docker', args, { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0
        ? resolvePromise()
        : reject(
            new BundleError('BUILD_FAILED', `\`docker ${args.join(' ')}\` failed with exit code ${code}.`),
          ),
    );
  });
}

const present = (image: string) =>
  run('docker', ['image', 'inspect', image]).then(
    () => true,
    () => false,
  );

/** Builds or pulls one image, then `docker save`s it into `dir`; returns the tarball's name. */
export async function saveImage(image: ComposeImage, dir: string): Promise<string> {
  if (image.build) {
    await docker(['build', '-f', image.build.dockerfile, '-t', image.image, image.build.context]);
  } else if (!(await present(image.image))) {
    await docker(['pull', image.image]);
  }
  const file = imageFileName(image.image);
  await docker(['save', '-o', join(dir, file), image.image]);
  return file;
}
