// Redaction throughput on ~50 MB of log-like text with a secret every few hundred lines, and on the
// redaction corpus itself (every line a secret or a look-alike) repeated to ~20 MB.
import { readFileSync } from 'node:fs';
import { PassThrough, Writable } from 'node:stream';
import { redactStream, redactText } from '../operator/src/redact/index.ts';
import { report } from './lib.ts';

function logText(targetBytes: number): string {
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000;
  const alnum = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const hex = '0123456789abcdef';
  const s = (n: number, set = alnum) =>
    Array.from({ length: n }, () => set[Math.floor(rnd() * set.length)]).join('');
  // A pool of distinct lines, so the text is varied without the generator dominating the timing.
  const templates = [
    () =>
      `2024-05-01T12:${s(2, '012345')}:${s(2, '012345')}.${s(3, hex)}Z INFO  [http] GET /api/v1/items/${s(6, hex)} 200 ${s(2, '123456789')}ms request_id=${s(8, hex)}-${s(4, hex)}-${s(4, hex)}-${s(4, hex)}-${s(12, hex)}`,
    () =>
      `May  1 12:00:00 web01 sshd[${s(4, '0123456789')}]: Accepted publickey for deploy from 10.0.${s(1, '0123')}.${s(2, '123456789')} port 5${s(4, '0123456789')} ssh2`,
    () =>
      `{"level":"debug","ts":1714564800.${s(3, '0123456789')},"msg":"cache miss","key":"user:${s(5, '0123456789')}:profile","took":"${s(1, '123')}.${s(2, '0123456789')}ms"}`,
    () => `    at Module._compile (node:internal/modules/cjs/loader:1376:14) commit ${s(40, hex)}`,
    () => `Pulling ghcr.io/acme/api@sha256:${s(64, hex)} (layer ${s(12, hex)}) ${s(20, 'abcdefghij ')}`,
    () =>
      `2024-05-01 12:00:00,${s(3, '0123456789')} WARN  [pool-3] c.a.db.Pool - slow query (${s(3, '0123456789')} ms): SELECT * FROM orders WHERE id = $1`,
    () =>
      `10.0.${s(1, '0123')}.${s(2, '123456789')} - - [01/May/2024:12:00:00 +0000] "GET /search?q=${s(6)}&page=${s(1, '123456789')}&session=${s(4, hex)} HTTP/1.1" 200 ${s(4, '0123456789')} "-" "Mozilla/5.0 (X11; Linux x86_64)"`,
    () =>
      `  - name: ${s(8, 'abcdefghij')}\n    image: registry.acme.io/api:${s(7, hex)}\n    resources: {limits: {cpu: 500m}}`,
  ];
  const secrets = [
    () => `export DB_PASSWORD=${s(16)}`,
    () => `curl -H "Authorization: Bearer ${s(40)}" https://api.acme.io`,
    () => `token=ghp_${s(36)}`,
    () => `DATABASE_URL=postgres://app:${s(14)}@db.internal:5432/app`,
    () => `AWS_ACCESS_KEY_ID=AKIA${s(16, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567')}`,
  ];
  const pool = Array.from({ length: 4096 }, (_, i) =>
    i % 300 === 0 ? secrets[i % secrets.length]!() : templates[Math.floor(rnd() * templates.length)]!(),
  );
  const parts: string[] = [];
  let size = 0;
  for (let i = 0; size < targetBytes; i++) {
    const line = pool[(i * 2654435761) % pool.length]! + '\n';
    parts.push(line);
    size += line.length;
  }
  return parts.join('');
}

/** Pushes `text` through redactStream in 64 KiB writes; returns wall and CPU milliseconds and bytes out. */
async function streamThrough(text: string): Promise<{ wall: number; cpu: number; written: number }> {
  const input = new PassThrough();
  let written = 0;
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      written += chunk.length;
      done();
    },
  });
  const cpu = process.cpuUsage();
  const t = performance.now();
  const done = redactStream(input, sink);
  const bytes = Buffer.from(text, 'latin1');
  for (let at = 0; at < bytes.length; at += 64 * 1024) {
    if (!input.write(bytes.subarray(at, at + 64 * 1024))) await new Promise((r) => input.once('drain', r));
  }
  input.end();
  await done;
  const used = process.cpuUsage(cpu);
  return { wall: performance.now() - t, cpu: (used.user + used.system) / 1000, written };
}

const mbps = (mb: number, r: { wall: number; cpu: number }) =>
  `${(mb / (r.wall / 1000)).toFixed(1)} MB/s wall, ${(mb / (r.cpu / 1000)).toFixed(1)} MB/s per CPU second`;

export async function benchRedaction(): Promise<void> {
  const text = logText(50 * 1024 * 1024);
  const mb = text.length / 1e6;
  redactText(text.slice(0, 1 << 20)); // warm up the JIT and regex compilation

  // CPU time next to wall time: on a shared machine the wall clock also counts waiting for a core.
  const cpu = process.cpuUsage();
  const t = performance.now();
  const out = redactText(text);
  const textMs = performance.now() - t;
  const used = process.cpuUsage(cpu);
  const textCpu = (used.user + used.system) / 1000;

  const logs = await streamThrough(text);

  const corpus = readFileSync(new URL('../test/redact/corpus.jsonl', import.meta.url), 'utf8')
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => (JSON.parse(line) as { input: string }).input)
    .join('\n');
  const dense = (corpus + '\n').repeat(Math.ceil(20e6 / corpus.length));
  const corpusRun = await streamThrough(dense);

  report('secret redaction', {
    input: `${mb.toFixed(1)} MB of log text`,
    markers: (out.match(/\[REDACTED:/g) ?? []).length,
    redactText: `${(mb / (textMs / 1000)).toFixed(1)} MB/s wall, ${(mb / (textCpu / 1000)).toFixed(1)} MB/s per CPU second`,
    'redactStream, logs': `${mbps(mb, logs)} (${(logs.written / 1e6).toFixed(1)} MB out)`,
    'redactStream, corpus': `${mbps(dense.length / 1e6, corpusRun)} (${(dense.length / 1e6).toFixed(1)} MB, the corpus inputs repeated)`,
  });
}

if (import.meta.url === `file://${process.argv[1]}`) await benchRedaction();
