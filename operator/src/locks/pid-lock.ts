import { readFileSync, rmSync, writeFileSync } from 'node:fs';

/** Who holds a lock that could not be taken. */
export type LockHolder = { kind: 'this-process' } | { kind: 'process'; pid: number } | { kind: 'race' };

const heldHere = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A pid lock file: one holder at a time, and a lock left by a process that has died is taken over.
 * `refuse` turns the holder into the caller's own typed error. Returns the release function.
 */
export function acquirePidLock(path: string, refuse: (holder: LockHolder) => Error): () => void {
  if (heldHere.has(path)) throw refuse({ kind: 'this-process' });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      heldHere.add(path);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        heldHere.delete(path);
        rmSync(path, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let pid = NaN;
      try {
        pid = Number(readFileSync(path, 'utf8').trim());
      } catch {
        // Removed between our write and this read: try again.
      }
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid))
        throw refuse({ kind: 'process', pid });
      rmSync(path, { force: true });
    }
  }
  throw refuse({ kind: 'race' });
}
