import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import {
  detectSandbox,
  execute,
  type ExecRequest,
  type ExecResult,
  type Sandbox,
} from '../../operator/src/exec/index.ts';
import { openVault, type Vault } from '../../operator/src/vault/index.ts';
import { tempDir } from '../helpers.ts';

export const silent = pino({ level: 'silent' });

/** A real vault and session in a fresh directory, and a way to run commands into it. */
export interface Bench {
  dir: string;
  vault: Vault;
  sessionId: string;
  run(
    command: string,
    options?: Partial<ExecRequest> & { sandbox?: Sandbox; parentEnv?: NodeJS.ProcessEnv },
  ): Promise<ExecResult>;
  close(): void;
}

let counter = 0;

export async function bench(defaultSandbox?: Sandbox): Promise<Bench> {
  const t = tempDir('dropops-exec-');
  const vault = openVault(join(t.path, '.dropops'));
  const { id } = vault.startSession({ operatorId: 'op-test' });
  const sandbox = defaultSandbox ?? (await detectSandbox());
  return {
    dir: t.path,
    vault,
    sessionId: id,
    run: (command, options = {}) =>
      execute(
        { executionId: `exec-${++counter}`, command, mode: 'auto', cwd: t.path, ...options },
        {
          vault,
          sessionId: id,
          sandbox: options.sandbox ?? sandbox,
          log: silent,
          parentEnv: options.parentEnv,
        },
      ),
    close: () => {
      vault.close();
      t.remove();
    },
  };
}

/** True once the process is gone or only a zombie (killed, not yet reaped by whoever inherited it). */
export function dead(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.startsWith('Z');
  } catch {
    return true;
  }
}

export async function until(condition: () => boolean, limitMs = 20_000): Promise<void> {
  for (const start = Date.now(); !condition();) {
    if (Date.now() - start > limitMs) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 20));
  }
}
