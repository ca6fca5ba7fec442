import { OperatorError } from '../errors.ts';
import { acquirePidLock } from '../locks/pid-lock.ts';

/** One running operator per state dir. */
export function acquireLock(path: string): () => void {
  return acquirePidLock(path, (holder) =>
    holder.kind === 'process'
      ? new OperatorError(
          'LOCKED',
          `another operator (pid ${holder.pid}) already runs from this directory; stop it first.`,
        )
      : holder.kind === 'this-process'
        ? new OperatorError('LOCKED', 'an operator already runs from this directory in this process.')
        : new OperatorError(
            'LOCKED',
            `could not take the lock ${path}; remove it if no operator is running.`,
          ),
  );
}
