import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { homedir } from 'node:os';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type SandboxKind = 'bwrap' | 'unshare' | 'none';

/** How a program is started: directly, or under a sandbox launcher. */
export interface Launch {
  file: string;
  args: string[];
  /** argv[0] the program sees (bubblewrap 0.8 cannot set it: there it is the program's path). */
  argv0: string;
}

export interface Sandbox {
  kind: SandboxKind;
  /** A plain sentence for start-up: what confines auto commands, or that nothing does. */
  notice: string;
  launch(program: string, argv: readonly string[], cwd: string): Launch;
}

export interface DetectOptions {
  bwrap?: string;
  unshare?: string;
}

const under = (dir: string, path: string) => path === dir || path.startsWith(dir + '/');

function bwrapArgs(cwd: string): string[] {
  return [
    '--ro-bind',
    '/',
    '/',
    '--dev',
    '/dev',
    '--proc',
    '/proc',
    '--tmpfs',
    '/tmp',
    // The fresh /tmp would hide a working directory below it.
    ...(under('/tmp', cwd) && cwd !== '/tmp' ? ['--ro-bind', cwd, cwd] : []),
    '--unshare-net',
    '--unshare-pid',
    '--die-with-parent',
    '--new-session',
    '--chdir',
    cwd,
  ];
}

/**
 * Run by /bin/sh inside `unshare`'s new namespaces, before exec'ing the command from "$@" untouched: every
 * reachable mount becomes read-only, /tmp a fresh tmpfs (the working directory bound back into it, read-only,
 * when it lies below /tmp), /dev a read-only tmpfs with only the harmless devices. Any step that fails stops the command (exit 125) rather than run it less confined.
 */
const UNSHARE_SETUP = `set -e
mount --make-rprivate /
cut -d' ' -f5 /proc/self/mountinfo | while read -r m; do
  m=$(printf '%b' "$m")
  [ -e "$m" ] || continue
  mount -o remount,bind,ro "$m" || { echo "dropops sandbox: cannot make $m read-only" >&2; exit 125; }
done
mount -t tmpfs -o mode=1777 tmpfs /tmp
case "$PWD" in /tmp/*) mkdir -p "$PWD"; mount --no-canonicalize --bind /proc/self/cwd "$PWD"; mount -o remount,bind,ro "$PWD" ;; esac
mkdir /tmp/.dev
for d in null zero full random urandom; do : > /tmp/.dev/$d; mount --bind /dev/$d /tmp/.dev/$d; done
mount -t tmpfs -o mode=755 tmpfs /dev
for d in null zero full random urandom; do : > /dev/$d; mount --bind /tmp/.dev/$d /dev/$d; umount /tmp/.dev/$d; done
rm -r /tmp/.dev
mount -o remount,ro /dev
exec "$@"`;

function unshareArgs(): string[] {
  return [
    '--map-root-user',
    '--net',
    '--mount',
    '--pid',
    '--fork',
    '--kill-child',
    '--mount-proc',
    '--',
    '/bin/sh',
    '-c',
    UNSHARE_SETUP,
    'dropops-sandbox',
  ];
}

const NONE: Sandbox = {
  kind: 'none',
  notice: 'no sandbox available: auto commands run unconfined; install bubblewrap',
  launch: (program, argv) => ({ file: program, args: argv.slice(1), argv0: argv[0] ?? program }),
};

function bwrap(path: string): Sandbox {
  return {
    kind: 'bwrap',
    notice: `auto commands run in a bubblewrap sandbox (${path}): read-only filesystem, private /tmp, no network`,
    launch: (program, argv, cwd) => ({
      file: path,
      args: [...bwrapArgs(cwd), '--', program, ...argv.slice(1)],
      argv0: path,
    }),
  };
}

function unshare(path: string): Sandbox {
  return {
    kind: 'unshare',
    notice: `auto commands run in namespaces made by ${path}: read-only filesystem, private /tmp, no network (install bubblewrap for a tighter sandbox)`,
    launch: (program, argv) => ({
      file: path,
      args: [...unshareArgs(), program, ...argv.slice(1)],
      argv0: path,
    }),
  };
}

const executable = (path: string) => {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/**
 * The probe runs inside the candidate sandbox: the home directory (writable outside) must not be writable
 * and the only network interface must be loopback.
 */
async function works(sandbox: Sandbox): Promise<boolean> {
  const probe = [
    '/bin/sh',
    '-c',
    'test ! -w "$1" && test "$(grep -c : /proc/net/dev)" -le 1',
    'probe',
    homedir(),
  ];
  const { file, args } = sandbox.launch(probe[0]!, probe, homedir());
  try {
    await run(file, args, { timeout: 10_000, env: { PATH: '/usr/bin:/bin' } });
    return true;
  } catch {
    return false;
  }
}

let detected: Promise<Sandbox> | undefined;

/**
 * Finds the strongest sandbox that actually works here, by running a probe in it: bubblewrap, then
 * `unshare` with user namespaces, else none. The default answer is probed once per process.
 */
export function detectSandbox(options: DetectOptions = {}): Promise<Sandbox> {
  const probeAll = async () => {
    const bwrapPath = options.bwrap ?? '/usr/bin/bwrap';
    if (executable(bwrapPath) && (await works(bwrap(bwrapPath)))) return bwrap(bwrapPath);
    const unsharePath = options.unshare ?? '/usr/bin/unshare';
    if (executable(unsharePath) && (await works(unshare(unsharePath)))) return unshare(unsharePath);
    return NONE;
  };
  if (options.bwrap !== undefined || options.unshare !== undefined) return probeAll();
  return (detected ??= probeAll());
}

/** The sentence the operator prints at start-up about its sandbox. */
export async function startupNotice(): Promise<string> {
  return (await detectSandbox()).notice;
}

/** No confinement: what approved commands get, and auto ones when no sandbox works. */
export const noSandbox: Sandbox = NONE;
