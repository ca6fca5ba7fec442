import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { bin } from '../helpers.ts';

function pipeThrough(
  args: string[],
  input: Buffer | string,
): Promise<{ code: number | null; stdout: Buffer }> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin('dropops-operator'), args, { stdio: ['pipe', 'pipe', 'inherit'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout: Buffer.concat(chunks) }));
    child.stdin.end(input);
  });
}

describe('dropops-operator redact', () => {
  it('replaces secrets on stdin and copies everything else byte for byte, binary included', async () => {
    const token = 'ghp_' + 'aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z5A';
    const binary = Buffer.from([0x00, 0xff, 0xfe, 0x0a, 0x80, 0x7f]);
    const input = Buffer.concat([
      Buffer.from(`commit 3b18e512dba79e4c8300dd08aeb37f8e728b8dad\nGITHUB_TOKEN=${token}\n`),
      binary,
    ]);
    const { code, stdout } = await pipeThrough(['redact'], input);
    expect(code).toBe(0);
    const text = stdout.toString('latin1');
    expect(text).not.toContain(token);
    expect(text).toContain('[REDACTED:');
    expect(text).toContain('commit 3b18e512dba79e4c8300dd08aeb37f8e728b8dad\n');
    expect(stdout.subarray(stdout.length - binary.length).equals(binary)).toBe(true);
  });
});
