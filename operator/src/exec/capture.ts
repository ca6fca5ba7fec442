import { createHash, type Hash } from 'node:crypto';
import { closeSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { OutputChunk, Vault } from '../vault/index.ts';
import { OutputWindows } from './model-output.ts';

export type Stream = 'stdout' | 'stderr';

/** Output reaches the vault in chunks of at least this size, or whatever arrived within FLUSH_MS. */
export const CHUNK_BYTES = 256 * 1024;
export const FLUSH_MS = 50;
/** Chunks are written in batches of about this much, one transaction each (a batch is stored whole or not). */
const BATCH_BYTES = 4 * CHUNK_BYTES;
/** Stderr is kept for the final hash in memory up to this size, then in a file. */
const SPILL_MEMORY = 1024 * 1024;

/**
 * Bytes kept until the end of the run without holding gigabytes in memory: up to SPILL_MEMORY in memory,
 * beyond that in an unlinked file of the execution's private scratch directory.
 */
class Spill {
  private chunks: Buffer[] = [];
  private size = 0;
  private fd: number | undefined;

  constructor(private readonly dir: string) {}

  add(data: Buffer): void {
    if (this.fd === undefined && this.size + data.length <= SPILL_MEMORY) {
      this.chunks.push(data);
      this.size += data.length;
      return;
    }
    if (this.fd === undefined) {
      const path = join(this.dir, 'stderr');
      this.fd = openSync(path, 'w+', 0o600);
      unlinkSync(path);
      for (const c of this.chunks) writeSync(this.fd, c);
      this.chunks = [];
    }
    writeSync(this.fd, data);
    this.size += data.length;
  }

  /** Feeds everything kept, in order, to `hash`, and frees it. */
  drainInto(hash: Hash): void {
    if (this.fd === undefined) {
      for (const c of this.chunks) hash.update(c);
    } else {
      const block = Buffer.allocUnsafe(1024 * 1024);
      for (let pos = 0; pos < this.size;) {
        const n = readSync(this.fd, block, 0, block.length, pos);
        if (n === 0) break;
        hash.update(block.subarray(0, n));
        pos += n;
      }
      closeSync(this.fd);
      this.fd = undefined;
    }
    this.chunks = [];
  }
}

export interface CaptureTotals {
  stdoutBytes: number;
  stderrBytes: number;
  /** sha256 over all stdout bytes followed by all stderr bytes, exactly as the vault holds them. */
  sha256: string;
}

/**
 * Streams a command's output into the vault as it arrives, coalesced into chunks (a gigabyte becomes a few
 * thousand rows, not millions), while hashing it and keeping the head and tail the model may see.
 * A vault write that fails stops the capture: `onFailure` is told once and later bytes are dropped.
 */
export class OutputCapture {
  readonly windows = new OutputWindows();
  private readonly pending: Record<Stream, Buffer[]> = { stdout: [], stderr: [] };
  private readonly pendingBytes: Record<Stream, number> = { stdout: 0, stderr: 0 };
  private readonly bytes: Record<Stream, number> = { stdout: 0, stderr: 0 };
  private readonly hash = createHash('sha256');
  private readonly stderr: Spill;
  private timer: NodeJS.Timeout | undefined;
  failure: unknown;

  constructor(
    private readonly vault: Vault,
    private readonly eventId: string,
    scratchDir: string,
    private readonly onFailure: (err: unknown) => void,
  ) {
    this.stderr = new Spill(scratchDir);
  }

  add(stream: Stream, data: Buffer): void {
    if (this.failure !== undefined) return;
    this.bytes[stream] += data.length;
    if (stream === 'stdout') this.hash.update(data);
    else this.stderr.add(data);
    this.windows.add(data);
    this.pending[stream].push(data);
    this.pendingBytes[stream] += data.length;
    if (this.pendingBytes.stdout + this.pendingBytes.stderr >= BATCH_BYTES) this.flushAll();
    else this.timer ??= setTimeout(() => this.flushAll(), FLUSH_MS);
  }

  /** Everything pending, both streams, as chunks of CHUNK_BYTES (the last of each stream shorter), in one batch. */
  private flushAll(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.failure !== undefined) return;
    const chunks: OutputChunk[] = [];
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.pendingBytes[stream] === 0) continue;
      const all = Buffer.concat(this.pending[stream], this.pendingBytes[stream]);
      for (let at = 0; at < all.length; at += CHUNK_BYTES)
        chunks.push({ stream, data: all.subarray(at, at + CHUNK_BYTES) });
      this.pending[stream] = [];
      this.pendingBytes[stream] = 0;
    }
    if (chunks.length === 0) return;
    try {
      this.vault.appendOutputs(this.eventId, chunks);
    } catch (err) {
      this.failure = err;
      this.onFailure(err);
    }
  }

  /** Writes what is pending and returns the sizes and hash of everything captured. */
  finish(): CaptureTotals {
    this.flushAll();
    this.stderr.drainInto(this.hash);
    return {
      stdoutBytes: this.bytes.stdout,
      stderrBytes: this.bytes.stderr,
      sha256: this.hash.digest('hex'),
    };
  }
}
