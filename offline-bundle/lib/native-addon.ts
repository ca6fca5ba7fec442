import { cp, mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { BundleError } from './errors.ts';
import { repoRoot } from './paths.ts';

/**
 * better-sqlite3 stays outside the one-file bundle: its compiled addon cannot be inlined, and it finds the
 * addon through `bindings`, which searches the package's own directory. So it ships as a small node_modules
 * tree beside the bundle: each package with only what it needs at run time (no sources, no install tools).
 */
const SHIPPED = [
  { name: 'better-sqlite3', files: ['package.json', 'LICENSE', 'lib', 'build/Release/better_sqlite3.node'] },
  { name: 'bindings', files: ['package.json', 'LICENSE.md', 'bindings.js'] },
  { name: 'file-uri-to-path', files: ['package.json', 'LICENSE', 'index.js'] },
] as const;

/** Packages the bundle leaves to the runtime's own module resolution. */
export const EXTERNAL_PACKAGES = ['better-sqlite3'];

/**
 * Copies the shipped packages into `<bundle>/node_modules`, each resolved the way Node would from the
 * package that requires it (starting at the operator workspace). Returns their directories in the repository.
 */
export async function copyNativeAddon(bundleDir: string): Promise<string[]> {
  const roots: string[] = [];
  let from = join(repoRoot, 'operator', 'package.json');
  for (const pkg of SHIPPED) {
    let manifest: string;
    try {
      manifest = createRequire(from).resolve(`${pkg.name}/package.json`);
    } catch {
      throw new BundleError(
        'SOURCE_MISSING',
        `${pkg.name} is not installed in this repository; run \`npm ci\` first.`,
      );
    }
    const source = dirname(manifest);
    for (const file of pkg.files) {
      const target = join(bundleDir, 'node_modules', pkg.name, file);
      await mkdir(dirname(target), { recursive: true });
      try {
        await cp(join(source, file), target, { recursive: true });
      } catch (err) {
        throw new BundleError(
          'SOURCE_MISSING',
          `${join(source, file)} could not be copied (${(err as NodeJS.ErrnoException).code}); ` +
            'reinstall it with `npm rebuild better-sqlite3`.',
        );
      }
    }
    roots.push(relative(repoRoot, source));
    from = manifest;
  }
  return roots;
}
