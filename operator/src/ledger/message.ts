// Ledger commit messages: a subject, an optional note, and git trailers that `git log` shows and
// `git interpret-trailers --parse` reads. Only the last paragraph holds trailers, so a note cannot forge one.
import { LedgerError } from './errors.ts';

export type LedgerAction = 'created' | 'snapshot' | 'record' | 'restore';

export interface Trailers {
  action: LedgerAction;
  executionId?: string;
  approver?: string;
  restoredFrom?: string;
}

const KEYS = {
  action: 'Ledger-Action',
  executionId: 'Execution-Id',
  approver: 'Approved-By',
  restoredFrom: 'Restored-From',
} as const;

const SINGLE_LINE = /^[^\u0000-\u001f\u007f]{1,200}$/;

/** Checks a trailer value a caller supplied: one line, not empty, at most 200 characters. */
export function checkMetaValue(field: string, value: unknown): string {
  if (typeof value !== 'string' || !SINGLE_LINE.test(value.trim()) || value !== value.trim())
    throw new LedgerError(
      'BAD_META',
      `${field} must be one line of 1 to 200 characters without control characters or surrounding spaces.`,
    );
  return value;
}

export function checkNote(note: unknown): string | undefined {
  if (note === undefined) return undefined;
  if (typeof note !== 'string' || note.includes('\0') || note.length > 4096)
    throw new LedgerError('BAD_META', 'note must be text of at most 4096 characters without NUL.');
  return note.trim() || undefined;
}

export function composeMessage(subject: string, trailers: Trailers, note?: string): string {
  const lines = (Object.keys(KEYS) as (keyof Trailers)[])
    .filter((k) => trailers[k] !== undefined)
    .map((k) => `${KEYS[k]}: ${trailers[k]}`);
  return [subject, ...(note ? [note] : []), lines.join('\n')].join('\n\n') + '\n';
}

/** The trailers of a ledger message; a commit someone else made parses with `action` undefined. */
export function parseTrailers(message: string): Partial<Trailers> {
  const paragraphs = message.trimEnd().split(/\n\s*\n/);
  if (paragraphs.length < 2) return {};
  const found: Record<string, string> = {};
  for (const line of paragraphs.at(-1)!.split('\n')) {
    const match = /^([A-Za-z-]+): (.*)$/.exec(line);
    if (match) found[match[1]!] = match[2]!;
  }
  const result: Partial<Trailers> = {};
  for (const [field, key] of Object.entries(KEYS) as [keyof Trailers, string][])
    if (found[key] !== undefined) (result as Record<string, string>)[field] = found[key];
  return result;
}
