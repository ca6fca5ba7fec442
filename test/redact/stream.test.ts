import { readFileSync } from 'node:fs';
import { PassThrough, Readable, Writable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { redactStream, redactText, type StreamOptions } from '../../operator/src/redact/index.ts';

const corpus = readFileSync(new URL('./corpus.jsonl', import.meta.url), 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => (JSON.parse(l) as { input: string }).input);

const pem = (lines: number) =>
  '-----BEGIN RSA PRIVATE KEY-----\n' +
  Array.from(
    { length: lines },
    (_, i) => `MIIEpAIBAAKCAQEA${String(i).padStart(6, '0')}abcdefghijklmnopqrstuvwxyzABCDEF==`,
  ).join('\n') +
  '\n-----END RSA PRIVATE KEY-----';

async function streamOf(chunks: Buffer[], options: StreamOptions = {}): Promise<Buffer> {
  const out: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      out.push(chunk);
      done();
    },
  });
  await redactStream(Readable.from(chunks), sink, options);
  return Buffer.concat(out);
}

function splitAt(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => Math.floor(c * bytes.length)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let at = 0;
  for (const p of points) {
    chunks.push(bytes.subarray(at, p));
    at = p;
  }
  chunks.push(bytes.subarray(at));
  return chunks.filter((c) => c.length > 0);
}

describe('redactStream', () => {
  it('equals redactText for random inputs split at random chunk boundaries', async () => {
    const piece = fc.oneof(
      fc.constantFrom(...corpus),
      fc.integer({ min: 1, max: 40 }).map(pem),
      fc.string({ maxLength: 40 }),
      fc.constant('\n'),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(piece, { minLength: 1, maxLength: 30 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 20 }),
        fc.constantFrom(1, 64, 1024, 1 << 20),
        async (pieces, cuts, batchBytes) => {
          const text = pieces.join('\n');
          const bytes = Buffer.from(text, 'latin1');
          // Tiny batches make the stream cut between almost every line, so every hold-back rule is exercised.
          const got = await streamOf(splitAt(bytes, cuts), { batchBytes, holdBytes: 1 << 20 });
          expect(got.toString('latin1')).toBe(redactText(bytes.toString('latin1')));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('gives the same output however a multi-megabyte stream is split, with the default batch sizes', async () => {
    const logLine = fc
      .tuple(
        fc.integer({ min: 0, max: 59 }),
        fc.constantFrom('INFO', 'WARN', 'DEBUG'),
        fc.string({ maxLength: 60 }),
      )
      .map(([s, level, msg]) => `2024-05-01T12:00:${String(s).padStart(2, '0')}Z ${level} ${msg}`);
    const kubeSecret = fc
      .base64String({ minLength: 8, maxLength: 40 })
      .map((v) => `apiVersion: v1\ndata:\n  password: ${v}\nkind: Secret\nmetadata:\n  name: db`);
    const piece = fc.oneof(
      { weight: 6, arbitrary: logLine },
      { weight: 3, arbitrary: fc.constantFrom(...corpus) },
      { weight: 1, arbitrary: fc.integer({ min: 1, max: 60 }).map(pem) },
      { weight: 1, arbitrary: kubeSecret },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(piece, { minLength: 1, maxLength: 200 }),
        fc.integer({ min: 1, max: 24 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 40 }),
        async (pieces, copies, cuts) => {
          // Repeated past the 1 MiB batch, so the stream cuts batches and holds back blocks for real.
          const unit = pieces.join('\n') + '\n';
          const bytes = Buffer.from(unit.repeat(Math.ceil((copies * 64 * 1024) / unit.length)), 'latin1');
          const whole = await streamOf([bytes]);
          const split = await streamOf(splitAt(bytes, cuts));
          expect(split.equals(whole)).toBe(true);
          expect(whole.toString('latin1')).toBe(redactText(bytes.toString('latin1')));
        },
      ),
      { numRuns: 20 },
    );
  });

  it('redacts a key block split one byte at a time', async () => {
    const text = `before\n${pem(30)}\nafter\n`;
    const bytes = Buffer.from(text);
    const chunks = Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1));
    expect((await streamOf(chunks)).toString()).toBe('before\n[REDACTED:private-key]\nafter\n');
  });

  it('still redacts a key block far larger than the hold-back cap', async () => {
    const filler = 'INFO request served\n'.repeat(20_000);
    const text = `${filler}${pem(5000)}\nafter\n`;
    const got = (await streamOf(splitAt(Buffer.from(text), [0.1, 0.5, 0.77]))).toString();
    expect(got).toBe(redactText(text));
    expect(got).not.toContain('MIIEpAIBAAKCAQEA');
  });

  it('passes binary through byte for byte', async () => {
    const bytes = Buffer.alloc(1 << 16);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
    const got = await streamOf(splitAt(bytes, [0.3, 0.6]));
    expect(got.equals(Buffer.from(redactText(bytes.toString('latin1')), 'latin1'))).toBe(true);
    const utf8 = Buffer.from('héllo wörld — ✓ password=s3cr3t ünïcode\n');
    expect((await streamOf([utf8])).toString('utf8')).toBe(
      'héllo wörld — ✓ password=[REDACTED:password] ünïcode\n',
    );
  });

  it('handles a 20 MB input', async () => {
    const line = '2024-05-01T12:00:00Z INFO GET /api/v1/items 200 12ms request_id=3f2a9c1d\n';
    const secret = 'export DB_PASSWORD=hunter2hunter2\n';
    const block = line.repeat(99) + secret;
    const total = 20 * 1024 * 1024;
    const input = new PassThrough();
    let size = 0;
    let markers = 0;
    let tail = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        size += chunk.length;
        const text = tail + chunk.toString('latin1');
        markers += (text.match(/\[REDACTED:password\]/g) ?? []).length;
        tail = text.slice(-24).replace(/^[^]*\[REDACTED:password\]/, '');
        done();
      },
    });
    const done = redactStream(input, sink);
    let written = 0;
    let blocks = 0;
    while (written < total) {
      const chunk = Buffer.from(block.repeat(20));
      written += chunk.length;
      blocks += 20;
      if (!input.write(chunk)) await new Promise((r) => input.once('drain', r));
    }
    input.end();
    await done;
    expect(markers).toBe(blocks);
    expect(size).toBe(written - blocks * ('hunter2hunter2'.length - '[REDACTED:password]'.length));
  });
});
