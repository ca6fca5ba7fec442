// The work the relay asks of an operator and what comes back. The result carries metadata only; command
// output travels separately, redacted and cut on the host, on the model channel, and is never stored.
import { z } from 'zod';
import { Freshness, WireError } from './wire.ts';

/** The longest command line an operator accepts; longer ones are refused before they are parsed. */
export const MAX_COMMAND_BYTES = 16 * 1024;
/** Output longer than this reaches the model as its head and tail with a marker between them. */
export const MODEL_OUTPUT_LIMIT_BYTES = 100 * 1024;
export const MAX_HISTORY_EVENTS = 500;
/**
 * The largest file `write_file` carries. Base64 makes it 171 KiB on the wire, inside the 256 KiB frame with
 * the approval token beside it.
 */
export const MAX_WRITE_BYTES = 128 * 1024;
/** The longest path `write_file` accepts (Linux PATH_MAX). */
export const MAX_PATH_BYTES = 4096;

const utf8Bytes = (s: string) => Buffer.byteLength(s, 'utf8');
export const ExecutionId = z.string().uuid();
/** A compact JWS; the operator checks it itself, so the schema only bounds its size. */
const approvalToken = z.string().min(20).max(8192);

const request = Freshness.extend({ id: z.string().uuid() });

export const FactsRequest = request.extend({ kind: z.literal('facts') });

export const ExecRequest = request.extend({
  kind: z.literal('exec'),
  executionId: ExecutionId,
  command: z
    .string()
    .min(1)
    .refine((c) => utf8Bytes(c) <= MAX_COMMAND_BYTES, `a command is at most ${MAX_COMMAND_BYTES} bytes`),
  /** Needed for anything the operator does not judge read-only. */
  approval: approvalToken.optional(),
  /** No timeout unless the requester sets one. */
  timeoutMs: z
    .number()
    .int()
    .positive()
    .max(24 * 3600 * 1000)
    .optional(),
});
export type ExecRequest = z.infer<typeof ExecRequest>;

export const HistoryRequest = request.extend({
  kind: z.literal('history'),
  sessionId: z.string().uuid().optional(),
  /** Events after this sequence number (default: the latest ones). */
  afterSeq: z.number().int().nonnegative().optional(),
  limit: z.number().int().positive().max(MAX_HISTORY_EVENTS).default(100),
});
export type HistoryRequest = z.infer<typeof HistoryRequest>;

export const CancelRequest = request.extend({ kind: z.literal('cancel'), executionId: ExecutionId });
export type CancelRequest = z.infer<typeof CancelRequest>;

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 is 64 lowercase hex digits');
/** Standard base64 with padding: the exact bytes, whatever their encoding. */
const base64 = z
  .string()
  .regex(
    /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/,
    'content is standard padded base64',
  );
const decodedBytes = (b64: string) => Math.floor((b64.length * 3) / 4) - (b64.match(/=+$/)?.[0].length ?? 0);

export const FilePath = z
  .string()
  .min(2)
  .refine((p) => utf8Bytes(p) <= MAX_PATH_BYTES, `a path is at most ${MAX_PATH_BYTES} bytes`)
  .regex(/^\/[^\u0000-\u001f\u007f]*$/, 'a path is absolute, without NUL or control characters');
export const FileContent = base64.refine(
  (c) => decodedBytes(c) <= MAX_WRITE_BYTES,
  `a file written over the link is at most ${MAX_WRITE_BYTES} bytes`,
);
/**
 * What the file must hold for the write to go ahead: the sha256 of its current bytes, or null for "no file
 * there yet". Absent means "whatever it holds"; the approval names which of the three was approved.
 */
export const ExpectedSha256 = sha256Hex.nullable().optional();

/**
 * `write_file`: replace one file with exactly these bytes. Whole content rather than a diff, so the approved
 * bytes are the bytes written (no patch to apply, no fuzz); `expectedSha256` stops a lost update when the
 * file changed after the approver looked at it. Always needs an approval, for `writeFileCommand(...)`.
 */
export const WriteRequest = request.extend({
  kind: z.literal('write'),
  executionId: ExecutionId,
  path: FilePath,
  content: FileContent,
  expectedSha256: ExpectedSha256,
  approval: approvalToken.optional(),
});
export type WriteRequest = z.infer<typeof WriteRequest>;

/**
 * A Ledger Mirror version: a full commit id, optionally followed by `^` or `~N` (`<id>^` is the version before
 * that commit). No `HEAD` and no prefix, so the version an approval names cannot move after it is given.
 */
export const LedgerRevision = z
  .string()
  .max(80)
  .regex(
    /^[0-9a-f]{40}(?:\^|~[1-9][0-9]{0,3})*$/,
    'a ledger version is a full commit id (40 lowercase hex digits), optionally followed by ^ or ~N',
  );

/**
 * `ledger restore`: put one file back to the version a ledger commit holds (or remove it, where it did not
 * exist then). Always needs an approval, for `restoreFileCommand(path, commit)`.
 */
export const RestoreRequest = request.extend({
  kind: z.literal('restore'),
  executionId: ExecutionId,
  path: FilePath,
  commit: LedgerRevision,
  approval: approvalToken.optional(),
});
export type RestoreRequest = z.infer<typeof RestoreRequest>;

/** What the relay may ask of an operator; anything else is refused. */
export const RelayRequest = z.discriminatedUnion('kind', [
  FactsRequest,
  ExecRequest,
  HistoryRequest,
  CancelRequest,
  WriteRequest,
  RestoreRequest,
]);
export type RelayRequest = z.infer<typeof RelayRequest>;

export const ChainHead = z.object({
  seq: z.number().int().nonnegative(),
  hash: z.string().regex(/^[0-9a-f]{64}$/),
});
export type ChainHead = z.infer<typeof ChainHead>;

/** The immediate answer to exec: the operator's own verdict, before anything runs. */
export const ExecAccepted = z.object({
  executionId: ExecutionId,
  mode: z.enum(['auto', 'approved']),
  reason: z.string().max(1000),
});
export type ExecAccepted = z.infer<typeof ExecAccepted>;

/** operator → relay when a run ends. Metadata only: no byte of output, no file content. */
export const ExecResult = z.object({
  executionId: ExecutionId,
  mode: z.enum(['auto', 'approved']),
  exitCode: z.number().int().nullable(),
  signal: z.string().nullable(),
  stdoutBytes: z.number().int().nonnegative(),
  stderrBytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  durationMs: z.number().nonnegative(),
  chainHead: ChainHead,
  /** Set when the run did not finish normally (cancelled, timed out, the vault failed). */
  error: WireError.nullable(),
  /**
   * The Ledger Mirror commits that recorded the files an approved run or a write changed, one per file; ids
   * only. Absent from an operator that predates the ledger wiring.
   */
  ledgerCommits: z
    .array(z.string().regex(/^[0-9a-f]{40}$/))
    .max(5000)
    .optional(),
  /** For a write: the size and sha256 of the bytes written and of the file they replaced (null: none). */
  written: z
    .object({
      bytes: z.number().int().nonnegative(),
      sha256: sha256Hex,
      previousSha256: sha256Hex.nullable(),
    })
    .optional(),
  /**
   * For a restore: the commit whose version was put back, whether the file was written, removed or already
   * held it, and the commit that first saved what it had drifted to (null: nothing to save).
   */
  restored: z
    .object({
      from: z.string().regex(/^[0-9a-f]{40}$/),
      outcome: z.enum(['written', 'removed', 'unchanged']),
      snapshot: z
        .string()
        .regex(/^[0-9a-f]{40}$/)
        .nullable(),
    })
    .optional(),
});
export type ExecResult = z.infer<typeof ExecResult>;

/** operator → relay, just before the result: what the model may see, redacted and cut on the host. */
export const ModelOutput = z.object({
  executionId: ExecutionId,
  text: z.string(),
  truncated: z.boolean(),
  totalBytes: z.number().int().nonnegative(),
});
export type ModelOutput = z.infer<typeof ModelOutput>;

/** One vault event as the operator shows it to the relay: payloads are redacted on the host. */
export const HistoryEvent = z.object({
  seq: z.number().int().positive(),
  id: z.string(),
  sessionId: z.string(),
  type: z.string(),
  at: z.string(),
  payload: z.unknown(),
  hash: z.string(),
});
export type HistoryEvent = z.infer<typeof HistoryEvent>;
export const History = z.object({ events: z.array(HistoryEvent), chainHead: ChainHead });
export type History = z.infer<typeof History>;

/** Admin API bodies: who asks and who approves come from the caller's credential, never from these. */
export const ExecCommandRequest = z.object({
  command: ExecRequest.shape.command,
  /** The caller approves this exact command as a state change; without it only read-only work runs. */
  approve: z.boolean().default(false),
  timeoutMs: ExecRequest.shape.timeoutMs,
});
/** `POST /api/operators/:ref/write`: the file as base64; it runs only when the caller approves it. */
export const WriteFileRequest = z.object({
  path: FilePath,
  content: FileContent,
  expectedSha256: ExpectedSha256,
  approve: z.boolean().default(false),
});
/** `POST /api/operators/:ref/restore`: a file back to a ledger version; it runs only when the caller approves it. */
export const RestoreFileRequest = z.object({
  path: FilePath,
  commit: LedgerRevision,
  approve: z.boolean().default(false),
});
export const HistoryQuery = HistoryRequest.pick({ sessionId: true, afterSeq: true, limit: true });
