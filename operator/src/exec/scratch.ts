import { execFile } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Pipe {
  read: number;
  write: number;
}

/**
 * Real pipes and here-document files for one execution, as plain descriptors the operator hands to children
 * and closes itself. Node cannot create a pipe it holds both ends of (its child pipes are socket pairs, which
 * break `/dev/stdout` for the child), so each pipe is a FIFO made by `mkfifo` in a directory only this user
 * can enter, opened at both ends and unlinked at once.
 */
export class Scratch {
  private next = 0;

  private constructor(
    readonly dir: string,
    private readonly fifos: number,
  ) {}

  static async create(pipes: number, mkfifo: string): Promise<Scratch> {
    const dir = mkdtempSync(join(tmpdir(), 'dropops-exec-'));
    try {
      const names = Array.from({ length: pipes }, (_, i) => join(dir, `p${i}`));
      if (names.length > 0) await run(mkfifo, ['-m', '600', ...names]);
      return new Scratch(dir, pipes);
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** Both ends of the next FIFO, in blocking mode as children expect. */
  pipe(): Pipe {
    if (this.next >= this.fifos) throw new Error('no FIFO left for this execution');
    const path = join(this.dir, `p${this.next++}`);
    // A reader must exist before the writer opens without blocking; the blocking reader then opens at once.
    const probe = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const write = openSync(path, constants.O_WRONLY);
    const read = openSync(path, constants.O_RDONLY);
    closeSync(probe);
    unlinkSync(path);
    return { read, write };
  }

  /** A here-document as an unlinked file, read from the start: what bash itself long used. */
  document(data: string): number {
    const path = join(this.dir, `d${this.next++}`);
    writeFileSync(path, data, { mode: 0o600 });
    const fd = openSync(path, constants.O_RDONLY);
    unlinkSync(path);
    return fd;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
