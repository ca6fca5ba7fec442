import { readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bin, exec } from '../helpers.ts';
import { openLedger, type LogEntry } from '../../operator/src/ledger/index.ts';
import { fixture, git, who } from './helpers.ts';

const operator = bin('dropops-operator');

async function history() {
  const f = fixture();
  const ledger = await openLedger(f.state);
  const conf = f.put('etc/app.conf', 'v1\n');
  const other = f.put('etc/other.conf', 'o1\n');
  const first = await ledger.record({ paths: [conf, other], ...who('exec-1', 'alice') });
  writeFileSync(conf, 'v2\n');
  const second = await ledger.record({ paths: [conf], ...who('exec-2', 'bob') });
  return { f, conf, other, first: first.commit!, second: second.commit! };
}

describe('dropops-operator ledger', () => {
  it('log lists commits newest first, for one file too, as text or JSON Lines', async () => {
    const { f, conf, other, first, second } = await history();
    const all = await exec(operator, ['ledger', 'log', '--dir', f.state]);
    expect(all.code).toBe(0);
    const heads = all.stdout.split('\n').filter((l) => !l.startsWith(' ') && l);
    expect(heads).toHaveLength(3);
    expect(heads[0]).toMatch(
      new RegExp(`^${second.slice(0, 12)}  \\S+Z  record    execution exec-2, approved by bob$`),
    );
    expect(heads[2]).toMatch(/ created$/);
    expect(all.stdout).toContain(`\n    ${other}\n`);

    // A relative FILE is taken from the current directory.
    const one = await exec(operator, ['ledger', 'log', 'etc/other.conf', '--dir', f.state, '--json'], {
      cwd: f.host,
    });
    expect(one.code).toBe(0);
    const entries = one.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as LogEntry);
    expect(entries.map((e) => e.commit)).toEqual([first]);
    expect(entries[0]).toMatchObject({ executionId: 'exec-1', approver: 'alice', paths: [conf, other] });
  });

  it('restore writes the version back, prints it and records the local user as approver', async () => {
    const { f, conf, second } = await history();
    const done = await exec(operator, ['ledger', 'restore', conf, '--to', `${second}^`, '--dir', f.state]);
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toMatch(
      new RegExp(`^restored ${conf} to its version at [0-9a-f]{12} \\(ledger commit [0-9a-f]{12}\\)\\n$`),
    );
    expect(readFileSync(conf, 'utf8')).toBe('v1\n');
    const ledgerDir = join(f.state, 'data', 'ledger');
    expect(git(ledgerDir, 'log', '-1', '--format=%(trailers:key=Approved-By,valueonly)').trim()).toBe(
      `local:${userInfo().username}`,
    );
    git(ledgerDir, 'fsck', '--strict');

    const again = await exec(operator, ['ledger', 'restore', conf, '--to', `${second}^`, '--dir', f.state]);
    expect(again.stdout).toContain('already matches');
  });

  it('maps refusals to exit codes with the error code named', async () => {
    const { f, conf } = await history();
    const unknown = await exec(operator, ['ledger', 'restore', conf, '--to', 'nope', '--dir', f.state]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('UNKNOWN_COMMIT');
    const inside = await exec(operator, [
      'ledger',
      'restore',
      join(f.state, 'policy.json'),
      '--to',
      'HEAD',
      '--dir',
      f.state,
    ]);
    expect(inside.code).toBe(1);
    expect(inside.stderr).toContain('PATH_OUTSIDE_TREE');
    expect((await exec(operator, ['ledger', 'restore', conf, '--dir', f.state])).code).toBe(2);
    expect((await exec(operator, ['ledger', 'log', 'a', 'b', '--dir', f.state])).code).toBe(2);
    const missing = await exec(operator, ['ledger', 'log', '--dir', join(f.host, 'nowhere')]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('NO_LEDGER');
  });

  it('documents both verbs in --help', async () => {
    const help = await exec(operator, ['--help']);
    expect(help.stdout).toMatch(/ledger log\s+list the Ledger Mirror/);
    expect(help.stdout).toMatch(/ledger restore\s+write FILE back/);
    const restore = await exec(operator, ['ledger', 'restore', '--help']);
    expect(restore.stdout).toContain('Usage: dropops-operator ledger restore FILE --to COMMIT [--dir DIR]');
  });
});
