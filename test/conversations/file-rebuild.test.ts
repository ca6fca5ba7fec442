import { createHash } from 'node:crypto';
import { writeFileCommand } from '@dropops/protocol';
import { describe, expect, it } from 'vitest';
import { rebuildFile } from '../../appliance/src/conversations/file-rebuild.ts';
import type { ExecOutcome } from '../../appliance/src/executions/service.ts';

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const PATH = '/srv/app.conf';

/** A host's answer to `cat -- PATH`: what it sealed, and what the model was shown. */
function read(file: string, shown = file, { exitCode = 0, truncated = false } = {}): ExecOutcome {
  const executionId = '00000000-0000-4000-8000-000000000001';
  return {
    executionId,
    mode: 'auto',
    reason: 'read-only',
    result: {
      executionId,
      mode: 'auto',
      exitCode,
      signal: null,
      stdoutBytes: Buffer.byteLength(file),
      stderrBytes: 0,
      sha256: sha256(file),
      durationMs: 1,
      chainHead: { seq: 1, hash: 'a'.repeat(64) },
      error: null,
    },
    modelOutput: { executionId, text: shown, truncated, totalBytes: Buffer.byteLength(file) },
  };
}

const diff = '--- a/app.conf\n+++ b/app.conf\n@@ -1,2 +1,2 @@\n port=80\n-workers=2\n+workers=4\n';

describe('rebuilding a file from the model diff', () => {
  it('applies the diff and approves exactly the new bytes over exactly the old ones', () => {
    const rebuilt = rebuildFile(PATH, diff, read('port=80\nworkers=2\n'));
    expect(rebuilt).toEqual({
      ok: true,
      write: {
        path: PATH,
        content: Buffer.from('port=80\nworkers=4\n').toString('base64'),
        expectedSha256: sha256('port=80\nworkers=2\n'),
      },
      command: writeFileCommand(PATH, sha256('port=80\nworkers=4\n'), sha256('port=80\nworkers=2\n')),
    });
  });

  it('refuses when what the model saw is not the file (a secret was redacted, or it was cut)', () => {
    const file = 'port=80\nworkers=2\npassword=hunter2hunter2\n';
    const shown = 'port=80\nworkers=2\npassword=[REDACTED:password]\n';
    expect(rebuildFile(PATH, diff, read(file, shown))).toMatchObject({ ok: false, code: 'NOT_AVAILABLE' });
    expect(
      rebuildFile(PATH, diff, read('port=80\nworkers=2\n', undefined, { truncated: true })),
    ).toMatchObject({
      ok: false,
      code: 'NOT_AVAILABLE',
    });
  });

  it('refuses a diff that does not apply, and creates a file only from /dev/null', () => {
    expect(rebuildFile(PATH, diff, read('port=8080\n'))).toMatchObject({ ok: false, code: 'BAD_REQUEST' });
    const create = '--- /dev/null\n+++ b/app.conf\n@@ -0,0 +1 @@\n+port=80\n';
    const missing = read('', 'cat: /srv/app.conf: No such file or directory\n', { exitCode: 1 });
    expect(rebuildFile(PATH, create, missing)).toMatchObject({ ok: true, write: { expectedSha256: null } });
    expect(rebuildFile(PATH, diff, missing)).toMatchObject({ ok: false, code: 'EXECUTION_FAILED' });
  });
});
