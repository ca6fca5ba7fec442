// `npm run bench`: every benchmark, printing its figures. BENCH_IDLE_COUNTS overrides the idle-operator counts.
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { tempDir } from '../test/helpers.ts';
import { benchCapture } from './capture.ts';
import { benchClassification } from './classify.ts';
import { benchConsole } from './console.ts';
import { benchCsrSigning } from './csr-signing.ts';
import { benchDrain } from './drain.ts';
import { benchIdleOperators } from './idle-operators.ts';
import { benchLedger } from './ledger.ts';
import { benchDatabase, report, startRelay } from './lib.ts';
import { benchLink } from './link.ts';
import { benchRedaction } from './redact.ts';
import { benchReplicas } from './replicas.ts';
import { benchSshYardstick } from './ssh-yardstick.ts';
import { benchVault } from './vault.ts';

const work = tempDir('dropops-bench-');
try {
  console.log(`# DropOps benchmarks, ${new Date().toISOString()}`);
  console.log(
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.versions.node}`,
  );
  await benchCsrSigning(work.path);
  await benchRedaction();
  await benchClassification();
  await benchVault(work.path);
  await benchLedger(work.path);
  await benchCapture(work.path);
  const databaseUrl = await benchDatabase();
  const relay = await startRelay(join(work.path, 'link-relay'), databaseUrl);
  try {
    await benchLink(relay, work.path);
  } finally {
    await relay.stop();
  }
  await benchSshYardstick(work.path);
  if (databaseUrl) {
    const counts = (process.env.BENCH_IDLE_COUNTS ?? '1000,10000').split(',').map(Number);
    await benchIdleOperators(work.path, databaseUrl, counts);
  } else {
    report('idle operators', {
      skipped: 'needs PostgreSQL (DATABASE_URL or 127.0.0.1:5432) to provision slots in bulk',
    });
  }
  await benchReplicas(work.path, databaseUrl);
  await benchDrain(work.path, databaseUrl);
  // A database of its own: the console's first sign-in needs a relay that has never had an admin.
  await benchConsole(work.path, databaseUrl && (await benchDatabase('dropops_bench_console')));
} finally {
  work.remove();
}
