// Output capture throughput: a 1 GiB text stream from an auto command (through the sandbox) into the Audit
// Vault, beside the raw rate of writing the same bytes to a file on the same disk.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
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
      'capture incl. seal': `${rate(total, wall)} (${(wall / 1000).toFixed(1)} s; the seal re-reads and hashes the stored output)`,
      'operator CPU': `${((used.user + used.system) / 1e6).toFixed(1)} s (${(((used.user + used.system) / 1000 / wall) * 100).toFixed(0)}% of one core)`,
      'raw write, page cache': `${rate(total, cached)} (\`cat > file\`)`,
      'raw write, fdatasync': `${rate(total, synced)} (\`dd conv=fdatasync\`)`,
      'vault file': `${mib(dbBytes)}; operator RSS after ${mib(rss)}`,
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`)
  await benchCapture(join(process.cwd(), '.bench-capture'));
