import { spawn } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bin, tempDir } from '../helpers.ts';

function classifyLines(
  lines: string[],
  args: string[] = [],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin('dropops-operator'), ['classify', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c));
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(lines.join('\n') + '\n');
  });
}

describe('dropops-operator classify', () => {
  it('stops quietly, exit 0, when the reader closes the pipe early (as with `| head`)', async () => {
    const child = spawn(bin('dropops-operator'), ['classify'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    child.stdout.once('data', () => child.stdout.destroy());
    child.stdin.on('error', () => undefined);
    child.stdin.end('ls -la\n'.repeat(20_000));
    expect(await exited).toBe(0);
    expect(stderr).not.toMatch(/EPIPE|at .*\.ts:\d+/);
  });

  it('writes one JSON verdict per input line, auto or approve, with a reason', async () => {
    const commands = [
      'ls -la /var/log',
      'find / -name x -delete',
      'sudo cat /etc/shadow',
      'git status',
      'cat a > b',
    ];
    const { code, stdout } = await classifyLines(commands);
    expect(code).toBe(0);
    const results = stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { command: string; verdict: string; reason: string });
    expect(results.map((r) => r.command)).toEqual(commands);
    expect(results.map((r) => r.verdict)).toEqual(['auto', 'approve', 'approve', 'auto', 'approve']);
    expect(results[2]!.reason).toMatch(/refused by policy/);
    for (const r of results) expect(r.reason.length).toBeGreaterThan(0);
  });

  it('applies a local policy file and refuses one that others can write', async () => {
    const dir = tempDir();
    try {
      const path = join(dir.path, 'policy.json');
      writeFileSync(path, JSON.stringify({ mode: 'allowlist', allow: ['ls'] }), { mode: 0o600 });
      const narrowed = await classifyLines(['ls /tmp', 'cat /etc/hosts'], ['--policy', path]);
      const verdicts = narrowed.stdout
        .trimEnd()
        .split('\n')
        .map((l) => (JSON.parse(l) as { verdict: string }).verdict);
      expect(narrowed.code === 0 ? verdicts : narrowed.stderr).toEqual(['auto', 'approve']);
      chmodSync(path, 0o666);
      const refused = await classifyLines(['ls'], ['--policy', path]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('INSECURE_PERMISSIONS');
    } finally {
      dir.remove();
    }
  });
});
