import { randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCsr, generateKeyPair, loadCa, signOperatorCsr } from '@dropops/pki';
import postgres from 'postgres';
import { mib, repoRoot, report, rssOf, startRelay, waitForLine } from './lib.ts';

const FINGERPRINT = 'be'.repeat(32);
const PER_PROCESS = 2_000;

/** Slots and certificates for `count` operators, written straight into the relay's database. */
async function provision(
  dataDir: string,
  databaseUrl: string,
  count: number,
): Promise<{ keyPem: string; certs: string[] }> {
  const ca = loadCa(join(dataDir, 'pki'));
  // One key pair for every simulated operator: key generation is not what this measures.
  const keys = generateKeyPair();
  const csr = createCsr(keys.privateKeyPem, keys.publicKeyPem, 'bench');
  const sql = postgres(databaseUrl, { max: 2, onnotice: () => {} });
  const certs: string[] = [];
  try {
    for (let start = 0; start < count; start += 1000) {
      const slots = [];
      const records = [];
      for (let i = start; i < Math.min(count, start + 1000); i++) {
        const id = randomUUID();
        const issued = signOperatorCsr(ca, csr, { org: 'bench', operatorId: id, fingerprint: FINGERPRINT });
        slots.push({
          id,
          org: 'bench',
          name: `idle-${i}`,
          api_key_hash: 'bench-only',
          fingerprint: FINGERPRINT,
        });
        records.push({
          serial: issued.serial,
          operator_id: id,
          fingerprint: FINGERPRINT,
          not_after: issued.notAfter,
        });
        certs.push(issued.certificatePem);
      }
      await sql`INSERT INTO operator_slots ${sql(slots)}`;
      await sql`INSERT INTO operator_certificates ${sql(records)}`;
    }
  } finally {
    await sql.end();
  }
  return { keyPem: keys.privateKeyPem, certs };
}

/** Relay memory with many idle operators connected: real TLS clients, several thousand per client process. */
export async function benchIdleOperators(
  workDir: string,
  databaseUrl: string,
  counts: number[],
): Promise<void> {
  const dataDir = join(workDir, 'idle-relay');
  const max = Math.max(...counts);
  let relay = await startRelay(dataDir, databaseUrl);
  const { keyPem, certs } = await provision(dataDir, databaseUrl, max);
  const rootPem = loadCa(join(dataDir, 'pki')).rootCertPem;
  for (const count of counts) {
    await relay.stop();
    relay = await startRelay(dataDir, databaseUrl);
    await new Promise((r) => setTimeout(r, 2_000));
    const baseline = rssOf(relay.child.pid!);
    const started = performance.now();
    const clients = [];
    for (let offset = 0; offset < count; offset += PER_PROCESS) {
      const jobPath = join(workDir, `idle-job-${offset}.json`);
      writeFileSync(
        jobPath,
        JSON.stringify({
          url: relay.url,
          rootPem,
          keyPem,
          certs: certs.slice(offset, Math.min(count, offset + PER_PROCESS)),
        }),
      );
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', join(repoRoot, 'bench', 'idle-clients.ts'), jobPath],
        { stdio: ['ignore', 'pipe', 'pipe'], cwd: repoRoot },
      );
      clients.push({ child, line: waitForLine(child, /^connected \d+/, 600_000) });
    }
    const lines = await Promise.all(clients.map((c) => c.line));
    const connectSeconds = (performance.now() - started) / 1000;
    const connected = lines.reduce((sum, l) => sum + Number(/connected (\d+)/.exec(l)![1]), 0);
    const failed = lines.reduce((sum, l) => sum + Number(/failed (\d+)/.exec(l)?.[1] ?? 0), 0);
    await new Promise((r) => setTimeout(r, 5_000));
    const loaded = rssOf(relay.child.pid!);
    report(`relay memory with ${count} idle operators`, {
      connected,
      failed,
      'client processes': clients.length,
      'time to connect all': `${connectSeconds.toFixed(1)} s (${(connected / connectSeconds).toFixed(0)} handshakes/s)`,
      'relay RSS before': mib(baseline),
      'relay RSS connected': mib(loaded),
      'per connection': `${((loaded - baseline) / Math.max(1, connected) / 1024).toFixed(1)} KiB`,
    });
    await Promise.all(
      clients.map(
        ({ child }) =>
          new Promise((resolve) => {
            child.once('exit', resolve);
            child.kill('SIGTERM');
          }),
      ),
    );
  }
  await relay.stop();
}
