import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classify } from '../../operator/src/policy/index.ts';
import { planArgv, planCommand, scrubbedEnv, type Plan } from '../../operator/src/exec/index.ts';
import { exec, tempDir } from '../helpers.ts';

const dir = tempDir('dropops-plan-');
const env: Record<string, string> = { ...scrubbedEnv(), HOME: '/home/someone' };

function plan(command: string) {
  return planCommand(command, classify(command), { cwd: dir.path, env });
}
function argv(command: string): string[][] {
  const p = plan(command);
  if (p.kind !== 'plan') throw new Error(`refused: ${p.reason}`);
  return planArgv(p.root);
}

beforeAll(() => {
  for (const f of [
    'a.log',
    'b.log',
    '.hidden.log',
    'x(1).log',
    'we{ird}.log',
    'a*b.txt',
    'ab.txt',
    'br[a].txt',
    'Z.log',
  ])
    writeFileSync(join(dir.path, f), '');
  mkdirSync(join(dir.path, 'sub/d1'), { recursive: true });
  mkdirSync(join(dir.path, 'sub/d2'), { recursive: true });
  writeFileSync(join(dir.path, 'sub/d1/f'), '');
  writeFileSync(join(dir.path, 'sub/d2/f'), '');
  symlinkSync('sub', join(dir.path, 'lnk'));
});
afterAll(() => dir.remove());

describe('globs expand as bash expands them', () => {
  const patterns = [
    '*.log',
    './*.log',
    '*',
    '.*',
    '*/',
    '[!a]*',
    '[a-b].log',
    '?.log',
    'a\\*b*',
    "'a*'b*",
    'sub/*/f',
    'lnk/*',
    '*.nomatch',
    '../*/sub',
    '[[:upper:]]*',
    'br\\[a\\]*',
    '"*".log',
    `${dir.path}/*.log`,
  ];
  it.each(patterns)('%s', async (pattern) => {
    // The reference: what bash itself passes as arguments, in the same directory, in the C.UTF-8 order.
    const bash = await exec('/bin/bash', ['-c', `export LC_ALL=C.UTF-8; printf '%s\\n' ${pattern}`], {
      cwd: dir.path,
    });
    expect(bash.code).toBe(0);
    expect(argv(`ls -d -- ${pattern}`)[0]!.slice(3)).toEqual(bash.stdout.split('\n').slice(0, -1));
  });
});

describe('words', () => {
  it('removes quotes and expands ~ and $NAME from the scrubbed environment only', () => {
    expect(argv(`echo "a b" 'c  d' e\\ f ~ ~/x "$HOME" \${HOME}/y "$LANG"`)[0]).toEqual([
      'echo',
      'a b',
      'c  d',
      'e f',
      '/home/someone',
      '/home/someone/x',
      '/home/someone',
      '/home/someone/y',
      env.LANG,
    ]);
    process.env.DROPOPS_SECRET_TEST = 'leak';
    const refused = plan('echo $DROPOPS_SECRET_TEST');
    expect(refused).toMatchObject({ kind: 'refusal' });
    expect(refused.kind === 'refusal' && refused.reason).toContain('$DROPOPS_SECRET_TEST');
  });

  it('refuses every construct it cannot reproduce, naming it', () => {
    const cases: Record<string, string> = {
      'echo $(ls)': 'command substitution',
      'cat <(ls)': 'process substitution',
      'echo $((1+2))': 'arithmetic expansion',
      'echo {a,b}': 'brace expansion',
      'echo $?': 'special parameter "$?"',
      'echo $1': 'special parameter "$1"',
      'echo ${#HOME}': 'parameter expansion with operators',
      "echo $'\\n'": 'ANSI-C quoting',
      'ls ~root': 'tilde expansion "~root"',
      'time ls': '"time"',
      'ls 3>&1': 'file descriptor 3',
      'ls 2>&-': 'descriptor redirection',
      'cat < *.log': 'glob',
      'echo x | { cat; }': 'reads from a pipe',
      'cat <<EOF\n$(ls)\nEOF': 'command substitution',
    };
    for (const [command, construct] of Object.entries(cases)) {
      const p = plan(command);
      expect(p.kind, command).toBe('refusal');
      if (p.kind === 'refusal') expect(p.reason, command).toContain(construct);
    }
    expect(plan('rm -rf x')).toMatchObject({ kind: 'refusal', construct: 'a command that is not auto' });
  });

  it('records here-documents and here-strings as stdin data, and redirections in order', () => {
    const p = plan(
      'cat <<-EOF 2>/dev/null\n\tone $HOME \\$x\n\tEOF\ncat <<< "s $USER" >&2\nls 2>&1 >/dev/null',
    ) as Plan;
    const body = (p.root as { body: { io: unknown[] }[] }).body;
    expect(body[0]!.io).toEqual([
      { op: 'data', fd: 0, data: 'one /home/someone $x\n' },
      { op: 'null', fd: 2 },
    ]);
    expect(body[1]!.io).toEqual([
      { op: 'data', fd: 0, data: `s ${env.USER}\n` },
      { op: 'dup', fd: 1, from: 2 },
    ]);
    expect(body[2]!.io).toEqual([
      { op: 'dup', fd: 2, from: 1 },
      { op: 'null', fd: 1 },
    ]);
    const quoted = plan("cat <<'EOF'\n$HOME \\$x\nEOF") as Plan;
    expect(JSON.stringify(quoted.root)).toContain('"data":"$HOME \\\\$x\\n"');
  });
});
