import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { OperatorError } from '../errors.ts';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** One running operator per state dir. A lock left by a process that has died is taken over. */
export function acquireLock(path: string): () => void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      let released = false;
      return () => {
        if (!released) rmSync(path, { force: true });
        released = true;
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(readFileSync(path, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
        throw new OperatorError(
          'LOCKED',
          `another operator (pid ${pid}) already runs from this directory; stop it first.`,
        );
      }
      rmSync(path, { force: true });
    }
  }
  throw new OperatorError('LOCKED', `could not take the lock ${path}; remove it if no operator is running.`);
}
