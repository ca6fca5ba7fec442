// Builds the web console (console/dist) when it is missing or older than its sources, so `npm start` and the
// end-to-end tests always serve the current code, and a fresh clone needs no extra step. Usage:
//   node --import tsx scripts/build-console.ts          build if stale
//   node --import tsx scripts/build-console.ts --force  build anyway
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const consoleDir = join(repo, 'console');
const builtIndex = join(consoleDir, 'dist', 'index.html');
// What the bundle is made of: the console's own files and the protocol schemas it imports.
const SOURCES = [
  'console/src',
  'console/index.html',
  'console/vite.config.ts',
  'console/package.json',
  'protocol/src',
];

function newestMtime(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/** Whether console/dist is missing or older than any source. */
export function consoleIsStale(): boolean {
  if (!existsSync(builtIndex)) return true;
  const built = statSync(builtIndex).mtimeMs;
  return SOURCES.some((source) => newestMtime(join(repo, source)) > built);
}

/**
 * Runs `vite build` for the console when it is stale (or always with `force`); returns whether it built. The
 * build runs in a process of its own with NODE_ENV=production, whatever the caller's (vitest sets `test`, which
 * would make Vite bundle React's development build).
 */
export async function ensureConsoleBuilt({ force = false, quiet = false } = {}): Promise<boolean> {
  if (!force && !consoleIsStale()) return false;
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [join(repo, 'node_modules', 'vite', 'bin', 'vite.js'), 'build'], {
      cwd: consoleDir,
      env: { ...process.env, NODE_ENV: 'production' },
      stdio: ['ignore', quiet ? 'ignore' : 'inherit', 'inherit'],
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`vite build of the console failed (exit ${code}); see above.`)),
    );
  });
  return true;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const built = await ensureConsoleBuilt({ force: process.argv.includes('--force') });
  if (!built) console.log('console/dist is up to date.');
}
