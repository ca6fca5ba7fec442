// Output capture throughput: a 1 GiB text stream from an auto command (through the sandbox) into the Audit
// Vault, beside the raw rate of writing the same bytes to a file on the same disk, and beside SQLite alone
// storing them as the vault does (256 KiB rows in WAL mode, which writes every byte twice: to the WAL, then
// to the database at checkpoints, each flushed to disk).
import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { detectSandbox, execute } from '../operator/src/exec/index.ts';
import { openVault } from '../operator/src/vault/index.ts';
import { mib, report } from './lib.ts';

const PART = 64 * 2 ** 20;
const COPIES = 16;

/** Base64 lines of random bytes: text the way logs are text, but with nothing for a disk to compress. */
function textPart(path: string): void {
  const lines: string[] = [];
  let size = 0;
  while (size < PART) {
    const line = randomBytes(57 * 64)
      .toString('base64')
      .replace(/(.{76})/g, '$1\n');
    lines.push(line);
    size += line.length;
  }
  writeFileSync(path, lines.join('').slice(0, PART));
}

const rate = (bytes: number, ms: number) => `${(bytes / 1e6 / (ms / 1000)).toFixed(0)} MB/s`;

function timed(fn: () => void): number {
  const t = performance.now();
  fn();
  return performance.now() - t;
}

/** SQLite alone, no operator: the same bytes as 256 KiB rows of the vault's outputs table, same pragmas. */
function sqliteBlobs(root: string, part: string, total: number): number {
  const db = new Database(join(root, 'blobs.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(
    'CREATE TABLE outputs (event_id TEXT NOT NULL, stream TEXT NOT NULL, chunk_seq INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (event_id, stream, chunk_seq))',
  );
  const insert = db.prepare("INSERT INTO outputs VALUES ('bench', 'stdout', ?, ?)");
  const data = readFileSync(part);
  const row = 256 * 1024;
  const batch = db.transaction((from: number) => {
    for (let seq = from; seq < from + 4; seq++)
      insert.run(seq, data.subarray((seq * row) % PART, ((seq * row) % PART) + row));
  });
  const ms = timed(() => {
    for (let seq = 0; seq * row < total; seq += 4) batch(seq);
  });
  db.close();
  return ms;
}

export async function benchCapture(workDir: string): Promise<void> {
  mkdirSync(workDir, { recursive: true });
  const root = mkdtempSync(join(workDir, 'capture-bench-'));
  try {
    const part = join(root, 'part.txt');
    textPart(part);
    const total = PART * COPIES;
    const inputs = Array.from({ length: COPIES }, () => 'part.txt');
    // Warm the page cache so every variant reads the input from memory.
    execFileSync('cat', inputs, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });

    const raw = join(root, 'raw.out');
    const cached = timed(() =>
      execFileSync('sh', ['-c', `cat ${inputs.join(' ')} > raw.out`], { cwd: root }),
    );
    rmSync(raw);
    const synced = timed(() =>
      execFileSync('sh', ['-c', `cat ${inputs.join(' ')} | dd of=raw.out bs=1M conv=fdatasync status=none`], {
        cwd: root,
      }),
    );
    rmSync(raw);
    const blobs = sqliteBlobs(root, part, total);
    rmSync(join(root, 'blobs.db'));

    const vault = openVault(join(root, '.dropops'));
    const { id } = vault.startSession({ operatorId: 'bench' });
    const sandbox = await detectSandbox();
    const cpu = process.cpuUsage();
    const t = performance.now();
    const result = await execute(
      { executionId: 'bench-capture', command: `cat ${inputs.join(' ')}`, mode: 'auto', cwd: root },
      { vault, sessionId: id, sandbox, log: pino({ level: 'silent' }) },
    );
    const wall = performance.now() - t;
    const used = process.cpuUsage(cpu);
    const rss = process.memoryUsage().rss;
    vault.close();
    if (result.stdoutBytes !== total) throw new Error(`captured ${result.stdoutBytes} of ${total} bytes`);
    const dbBytes = statSync(join(root, '.dropops', 'data', 'dropops.db')).size;

    report('output capture (1 GiB text stream into the vault)', {
      stream: `${mib(total)} from \`cat\` (auto, ${sandbox.kind} sandbox)`,
      'capture while running': `${rate(total, result.durationMs)} (${(result.durationMs / 1000).toFixed(1)} s)`,
      'capture incl. seal': `${rate(total, wall)} (${(wall / 1000).toFixed(1)} s; the seal uses the digests kept while storing)`,
      'operator CPU': `${((used.user + used.system) / 1e6).toFixed(1)} s (${(((used.user + used.system) / 1000 / wall) * 100).toFixed(0)}% of one core)`,
      'raw write, page cache': `${rate(total, cached)} (\`cat > file\`)`,
      'raw write, fdatasync': `${rate(total, synced)} (\`dd conv=fdatasync\`)`,
      'raw SQLite, same bytes as 256 KiB rows': `${rate(total, blobs)} (4 rows per transaction, WAL with its automatic checkpoints, as the vault runs)`,
      'vault file': `${mib(dbBytes)}; operator RSS after ${mib(rss)}`,
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`)
  await benchCapture(join(process.cwd(), '.bench-capture'));
