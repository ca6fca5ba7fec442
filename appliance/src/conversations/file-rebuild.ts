import { createHash } from 'node:crypto';
import { MAX_WRITE_BYTES, writeFileCommand } from '@dropops/protocol';
import { applyPatch } from 'diff';
import type { ExecOutcome } from '../executions/service.ts';

export type Rebuilt =
  | {
      ok: true;
      /** What `ExecutionService.write` sends: the new bytes and the old ones' sha256 (null: no file yet). */
      write: { path: string; content: string; expectedSha256: string | null };
      /** What people approve: `writeFileCommand` over exactly these bytes and that precondition. */
      command: string;
    }
  | { ok: false; code: string; message: string };

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const refuse = (code: string, message: string): Rebuilt => ({ ok: false, code, message });

/**
 * The file `write_file` will write, from the model's unified diff and the host's `cat` of the current file.
 * The relay only ever sees the redacted view, so it rebuilds the file only when that view is the file itself:
 * its sha256 equals the sha256 the host sealed, and nothing was cut. A diff from /dev/null creates a file
 * that could not be read (it does not exist).
 */
export function rebuildFile(path: string, diff: string, read: ExecOutcome): Rebuilt {
  const { result, modelOutput } = read;
  const text = modelOutput?.text ?? '';
  let current: { text: string; sha256: string | null };
  if (result.exitCode !== 0 && /^--- \/dev\/null/m.test(diff)) current = { text: '', sha256: null };
  else if (result.exitCode !== 0 || result.stderrBytes > 0)
    return refuse(
      'EXECUTION_FAILED',
      `${path} could not be read (exit ${result.exitCode}): ${text.slice(0, 300)}`,
    );
  else if (modelOutput?.truncated || sha256(Buffer.from(text, 'utf8')) !== result.sha256)
    return refuse(
      'NOT_AVAILABLE',
      `${path} holds secrets or is too long for the model to see whole, so the relay cannot rebuild it; change it with a command instead.`,
    );
  else current = { text, sha256: result.sha256 };

  const next = applyPatch(current.text, diff);
  if (next === false)
    return refuse(
      'BAD_REQUEST',
      `the diff does not apply to ${path} as it is now; read it again and diff against that.`,
    );
  const bytes = Buffer.from(next, 'utf8');
  if (bytes.length > MAX_WRITE_BYTES)
    return refuse(
      'BAD_REQUEST',
      `the new ${path} would be over ${MAX_WRITE_BYTES} bytes; change it with a command.`,
    );
  return {
    ok: true,
    write: { path, content: bytes.toString('base64'), expectedSha256: current.sha256 },
    command: writeFileCommand(path, sha256(bytes), current.sha256),
  };
}
