import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { onTestFinished } from 'vitest';
import { tempDir } from '../helpers.ts';
import { ledgerPath } from '../../operator/src/ledger/index.ts';

export interface Fixture {
  /** A host directory standing in for `/`: the files the "operator" changes live under it. */
  host: string;
  /** The operator's state directory (its `.dropops`), beside the host directory. */
  state: string;
  ledgerDir: string;
  /** The absolute path of `rel` under the host directory. */
  at(rel: string): string;
  /** Writes `content` at `rel` under the host directory, creating directories. */
  put(rel: string, content: string | Buffer, mode?: number): string;
}

/** A fresh temp tree, removed when the test finishes. Real paths, so symlinked temp dirs do not matter. */
export function fixture(): Fixture {
  const dir = tempDir('dropops-ledger-');
  onTestFinished(dir.remove);
  const root = realpathSync(dir.path);
  const host = join(root, 'host');
  const state = join(root, 'state', '.dropops');
  mkdirSync(host);
  const at = (rel: string) => join(host, rel);
  return {
    host,
    state,
    ledgerDir: ledgerPath(state),
    at,
    put(rel, content, mode = 0o644) {
      const path = at(rel);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, content, { mode });
      return path;
    },
  };
}

/** Runs the real git binary against the ledger; throws with git's stderr on a non-zero exit. */
export function git(ledgerDir: string, ...args: string[]): string {
  return gitBytes(ledgerDir, ...args).toString('utf8');
}

export function gitBytes(ledgerDir: string, ...args: string[]): Buffer {
  return execFileSync('git', ['-C', ledgerDir, ...args], {
    maxBuffer: 256 * 2 ** 20,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' },
  });
}

/** What `git hash-object` would say for these bytes. */
export const blobOid = (content: string | Buffer): string => {
  const bytes = Buffer.from(content);
  return createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
};

/** `git ls-tree -r HEAD` as path (absolute, with the leading "/") → mode and blob oid. */
export function lsTree(ledgerDir: string): Map<string, { mode: string; oid: string }> {
  const out = git(ledgerDir, 'ls-tree', '-r', '-z', 'HEAD');
  const files = new Map<string, { mode: string; oid: string }>();
  for (const record of out.split('\0').filter(Boolean)) {
    const [meta, path] = record.split('\t') as [string, string];
    const [mode, , oid] = meta.split(' ') as [string, string, string];
    files.set(`/${path}`, { mode, oid });
  }
  return files;
}

export const who = (executionId = 'exec-1', approver = 'alice@example.org') => ({ executionId, approver });
