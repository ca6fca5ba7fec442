import { spawn } from 'node:child_process';
import { closeSync, constants, fstatSync, openSync, realpathSync, write } from 'node:fs';
import { resolve } from 'node:path';
import { constants as os } from 'node:os';
import { promisify } from 'node:util';
import { ExecError } from './errors.ts';
import type { IoOp, PlanNode } from './plan.ts';
import type { Sandbox } from './sandbox.ts';
import type { Scratch } from './scratch.ts';

const writeFd = promisify(write);

/** A command's end as bash reports it in `$?`; `signal` is set when the process was killed by one. */
export interface Status {
  code: number;
  signal: NodeJS.Signals | null;
}

/** What a child's descriptors 0, 1 and 2 are: an open descriptor of the operator's, or /dev/null. */
type Fds = [number | 'ignore', number | 'ignore', number | 'ignore'];

/** Input files a command may be given besides regular files and directories. */
const INPUT_DEVICES = new Set(['/dev/null', '/dev/zero', '/dev/random', '/dev/urandom']);

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

export type StopReason = 'cancelled' | 'timed-out' | 'vault-write-failed' | 'spawn-failed';

export interface RunOptions {
  cwd: string;
  env: Record<string, string>;
  sandbox: Sandbox;
  scratch: Scratch;
  killGraceMs: number;
}

/**
 * Runs a prepared plan as the shell would have, without one: lists, pipelines of real pipes, groups sharing
 * descriptors. Every process starts in its own process group (and session: no terminal), so `stop` can kill
 * each group whole, grandchildren included: SIGTERM, then SIGKILL after the grace period.
 */
export class PlanRunner {
  private readonly groups = new Set<number>();
  private killTimer: NodeJS.Timeout | undefined;
  private disposed = false;
  stopped: { reason: StopReason; error?: ExecError } | undefined;
  /** Called once when `stop` escalates to SIGKILL (the caller stops waiting for output then). */
  onKilled: () => void = () => {};

  constructor(private readonly options: RunOptions) {}

  stop(reason: StopReason, error?: ExecError): void {
    if (this.stopped) return;
    this.stopped = { reason, error };
    // After the run (a failing last vault write, say) there is nothing left to kill.
    if (this.disposed) return;
    this.signalAll('SIGTERM');
    this.killTimer = setTimeout(() => {
      this.signalAll('SIGKILL');
      this.onKilled();
    }, this.options.killGraceMs);
  }

  /** After the run: a stopped run's groups get SIGKILL now, so nothing that ignored SIGTERM outlives it. */
  dispose(): void {
    this.disposed = true;
    if (this.killTimer) {
      clearTimeout(this.killTimer);
      this.signalAll('SIGKILL');
    }
  }

  private signalAll(signal: NodeJS.Signals): void {
    for (const pgid of this.groups) {
      try {
        process.kill(-pgid, signal);
      } catch {
        // The whole group is gone already.
      }
    }
  }

  run(node: PlanNode, fds: Fds): Promise<Status> {
    switch (node.kind) {
      case 'command':
        return this.withIo(node.io, fds, (io) => this.spawnCommand(node.program!, node.argv, io));
      case 'group':
        return this.withIo(node.io, fds, async (io) => {
          let status: Status = { code: 0, signal: null };
          for (const child of node.body) status = await this.run(child, io);
          return status;
        });
      case 'and':
      case 'or':
        return this.run(node.left, fds).then((left) =>
          (left.code === 0) === (node.kind === 'and') ? this.run(node.right, fds) : left,
        );
      case 'not':
        return this.run(node.node, fds).then((s) => ({ code: s.code === 0 ? 1 : 0, signal: null }));
      case 'pipeline':
        return this.runPipeline(node.stages, fds);
    }
  }

  /** Each stage's pipe ends are closed here once that stage is done, so readers see EOF and writers EPIPE. */
  private async runPipeline(stages: PlanNode[], fds: Fds): Promise<Status> {
    const pipes = stages.slice(1).map(() => this.options.scratch.pipe());
    const statuses = await Promise.all(
      stages.map((stage, i) => {
        const input = i === 0 ? fds[0] : pipes[i - 1]!.read;
        const output = i === stages.length - 1 ? fds[1] : pipes[i]!.write;
        return this.run(stage, [input, output, fds[2]]).finally(() => {
          if (i > 0) closeSync(pipes[i - 1]!.read);
          if (i < stages.length - 1) closeSync(pipes[i]!.write);
        });
      }),
    );
    return statuses.at(-1)!;
  }

  /** Applies redirections in order, runs `body` with the result, and closes what they opened. */
  private async withIo(io: IoOp[], fds: Fds, body: (fds: Fds) => Promise<Status>): Promise<Status> {
    const opened: number[] = [];
    const next: Fds = [...fds];
    try {
      for (const op of io) {
        if (op.op === 'null') next[op.fd] = 'ignore';
        else if (op.op === 'dup') next[op.fd] = next[op.from];
        else if (op.op === 'data') opened.push((next[0] = this.options.scratch.document(op.data)));
        else {
          const fd = this.openInput(op.path);
          if (typeof fd === 'string') {
            await this.complain(next[2], `${op.path}: ${fd}`);
            return { code: 1, signal: null };
          }
          opened.push((next[0] = fd));
        }
      }
      return await body(next);
    } finally {
      for (const fd of opened) closeSync(fd);
    }
  }

  /** `< file`, opened by the operator as bash would; an error sentence when it cannot be. */
  private openInput(path: string): number | string {
    const full = resolve(this.options.cwd, path);
    let fd: number;
    try {
      // Non-blocking, so a FIFO cannot hang the operator; it is refused below anyway.
      fd = openSync(full, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return code === 'ENOENT'
        ? 'No such file or directory'
        : code === 'EACCES'
          ? 'Permission denied'
          : (err as Error).message;
    }
    const st = fstatSync(fd);
    if (st.isFile() || st.isDirectory() || INPUT_DEVICES.has(realpathSync(full))) return fd;
    closeSync(fd);
    return 'not a regular file; the executor reads only files and directories';
  }

  private async complain(fd: number | 'ignore', message: string): Promise<void> {
    if (fd === 'ignore') return;
    await writeFd(fd, `dropops: ${message}\n`).catch(() => {});
  }

  private spawnCommand(program: string, argv: string[], fds: Fds): Promise<Status> {
    if (this.stopped) return Promise.resolve({ code: 130, signal: null });
    const { cwd, env, sandbox } = this.options;
    const launch = sandbox.launch(program, argv, cwd);
    return new Promise((resolvePromise) => {
      const child = spawn(launch.file, launch.args, {
        argv0: launch.argv0,
        cwd,
        env,
        stdio: fds,
        detached: true,
      });
      if (child.pid !== undefined) this.groups.add(child.pid);
      child.once('error', (err) => {
        this.stop(
          'spawn-failed',
          new ExecError('SPAWN_FAILED', `could not start ${launch.file}: ${err.message}`, undefined, {
            cause: err,
          }),
        );
        resolvePromise({ code: 127, signal: null });
      });
      child.once('exit', (code, signal) => {
        // A group whose leader is gone may still hold grandchildren; forget it only once it is empty.
        if (child.pid !== undefined && !groupAlive(child.pid)) this.groups.delete(child.pid);
        resolvePromise(
          signal ? { code: 128 + (os.signals[signal] ?? 0), signal } : { code: code ?? 0, signal: null },
        );
      });
    });
  }
}
