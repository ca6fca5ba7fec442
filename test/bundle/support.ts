import { execFile } from 'node:child_process';
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { exec, repoRoot, type CommandResult } from '../helpers.ts';

const run = promisify(execFile);

/** Every program the bundle's scripts may use on a target host: openssl, sha256sum and POSIX tools. */
const TARGET_TOOLS = [
  'sh',
  'openssl',
  'sha256sum',
  'cat',
  'cp',
  'cut',
  'dirname',
  'find',
  'grep',
  'ls',
  'mkdir',
  'rm',
  'sed',
  'tr',
  'wc',
];

/**
 * The environment of a bare target host: a PATH holding only the tools above (no node, npm or tsx), no
 * NODE_PATH or NODE_OPTIONS, and a HOME of its own. Scripts that need anything else fail under it.
 */
export async function targetEnv(dir: string): Promise<NodeJS.ProcessEnv> {
  const bin = join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  for (const tool of TARGET_TOOLS) {
    const { stdout } = await run('sh', ['-c', `command -v ${tool}`]);
    symlinkSync(stdout.trim(), join(bin, tool));
  }
  return { PATH: bin, HOME: dir, LANG: 'C' };
}

/** Runs a program with exactly the given environment (helpers.exec adds the test's own). */
export async function execIn(
  env: NodeJS.ProcessEnv,
  file: string,
  args: string[],
  cwd: string,
): Promise<CommandResult> {
  try {
    const { stdout, stderr } = await run(file, args, { cwd, env, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** `npm run -s <script> -- args` from the repository, as a person would run it. */
export const npmScript = (script: string, args: string[]) =>
  exec('npm', ['run', '-s', script, '--', ...args], { cwd: repoRoot });
