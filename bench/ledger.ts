// Ledger Mirror commit latency for a one-file change, with 10 and with 10,000 tracked files, beside stock
// `git add <file> && git commit` on the same files (its own git dir, the same work tree).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openLedger } from '../operator/src/ledger/index.ts';
import { ms, percentile, report } from './lib.ts';

const LEDGER_COMMITS = 300;
const GIT_COMMITS = 40;
const gitEnv = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };

/** `count` files as a server tree has them: directories of at most 100 files, three levels down. */
function populate(host: string, count: number): string[] {
  const paths: string[] = [];
  for (let i = 0; i < count; i++) {
    const dir = join(host, 'srv', `d${String(Math.floor(i / 100)).padStart(3, '0')}`);
    if (i % 100 === 0) mkdirSync(dir, { recursive: true });
    const path = join(dir, `f${String(i % 100).padStart(3, '0')}.conf`);
    writeFileSync(path, `setting_${i} = ${i}\n`.repeat(8));
    paths.push(path);
  }
  return paths;
}

async function measure(root: string, count: number) {
  const host = join(root, `host-${count}`);
  const paths = populate(host, count);
  const state = join(root, `state-${count}`);
  let ledger = await openLedger(state);
  let t = performance.now();
  await ledger.record({ paths, executionId: 'import', approver: 'bench' });
  const importMs = performance.now() - t;

  const pick = (i: number) => paths[(i * 7919) % paths.length]!;
  const ledgerMs: number[] = [];
  for (let i = 0; i < LEDGER_COMMITS; i++) {
    const path = pick(i);
    writeFileSync(path, `changed ${i}\n`);
    t = performance.now();
    await ledger.record({ paths: [path], executionId: `exec-${i}`, approver: 'bench' });
    ledgerMs.push(performance.now() - t);
  }
  // A fresh instance has no trees cached: its first commit reads every level from disk.
  ledger = await openLedger(state);
  writeFileSync(pick(0), 'cold\n');
  t = performance.now();
  await ledger.record({ paths: [pick(0)], executionId: 'cold', approver: 'bench' });
  const coldMs = performance.now() - t;

  const gitDir = join(root, `git-${count}`);
  const git = (...args: string[]) =>
    execFileSync(
      'git',
      [
        `--git-dir=${gitDir}`,
        `--work-tree=${host}`,
        '-c',
        'user.name=bench',
        '-c',
        'user.email=b@x',
        ...args,
      ],
      { env: gitEnv, stdio: ['ignore', 'ignore', 'inherit'] },
    );
  execFileSync('git', ['init', '--quiet', '--bare', gitDir], { env: gitEnv });
  git('config', 'core.bare', 'false');
  git('config', 'gc.auto', '0');
  git('add', '-A');
  git('commit', '--quiet', '-m', 'import');
  const gitMs: number[] = [];
  for (let i = 0; i < GIT_COMMITS; i++) {
    const path = pick(i + LEDGER_COMMITS);
    writeFileSync(path, `git change ${i}\n`);
    t = performance.now();
    git('add', path);
    git('commit', '--quiet', '-m', `exec-${i}`);
    gitMs.push(performance.now() - t);
  }
  return { importMs, ledgerMs, coldMs, gitMs };
}

export async function benchLedger(workDir: string): Promise<void> {
  mkdirSync(workDir, { recursive: true });
  const root = mkdtempSync(join(workDir, 'ledger-bench-'));
  try {
    const figures: Record<string, string> = {};
    for (const count of [10, 10_000]) {
      const { importMs, ledgerMs, coldMs, gitMs } = await measure(root, count);
      const n = count.toLocaleString('en-US');
      figures[`ledger commit, ${n} tracked`] =
        `p50 ${ms(percentile(ledgerMs, 50))}, p99 ${ms(percentile(ledgerMs, 99))} (${LEDGER_COMMITS} one-file commits)`;
      figures[`ledger first commit after open, ${n} tracked`] = ms(coldMs);
      figures[`git add + git commit, ${n} tracked`] =
        `p50 ${ms(percentile(gitMs, 50))}, p99 ${ms(percentile(gitMs, 99))} (${GIT_COMMITS} commits, two processes each)`;
      figures[`ledger import of all ${n} files in one commit`] = ms(importMs);
    }
    report('ledger mirror (one-file change; directories of at most 100 files)', figures);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchLedger(join(process.cwd(), '.bench'));
