// Records changes to a ledger until killed; used by the SIGKILL test.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openLedger } from '../../operator/src/ledger/index.ts';

const [state, host] = process.argv.slice(2) as [string, string];
const ledger = await openLedger(state);
for (let i = 1; ; i++) {
  const dir = join(host, `d${i % 7}`, `e${i % 3}`);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `f${i % 11}`);
  writeFileSync(file, `change ${i}\n`.repeat(1 + (i % 50)));
  await ledger.record({ paths: [file], executionId: `exec-${i}`, approver: 'child' });
  process.stdout.write(`committed ${i}\n`);
}
