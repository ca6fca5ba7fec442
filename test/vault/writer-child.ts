// Appends to a vault until killed; used by the kill -9 test.
import { openVault } from '../../operator/src/vault/index.ts';

const dir = process.argv[2]!;
const vault = openVault(dir);
const { id } = vault.startSession({ operatorId: 'child' });
process.stdout.write('ready\n');
for (let i = 0; ; i++) {
  if (i % 2 === 0) vault.append({ type: 'AI_MSG', sessionId: id, payload: { i, text: 'x'.repeat(i % 500) } });
  else
    vault.appendBatch(
      Array.from({ length: 50 }, (_, j) => ({ type: 'CMD_EXEC' as const, sessionId: id, payload: { i, j } })),
    );
}
