import { readFileSync } from 'node:fs';
import { classify } from '../operator/src/policy/index.ts';
import { report } from './lib.ts';

/** Times the command classifier over the policy corpus, repeated to about 20,000 classifications. */
export async function benchClassification(): Promise<void> {
  const commands = readFileSync(new URL('../test/policy/corpus.jsonl', import.meta.url), 'utf8')
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => (JSON.parse(line) as { command: string }).command);
  const rounds = Math.ceil(20_000 / commands.length);
  // One warm-up round so the parser's lazy initialisation is not timed.
  for (const c of commands) classify(c);
  const verdicts = { auto: 0, approve: 0, deny: 0 };
  const start = process.hrtime.bigint();
  for (let r = 0; r < rounds; r++) for (const c of commands) verdicts[classify(c).verdict]++;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const total = rounds * commands.length;
  report('command classification', {
    classifications: total,
    'distinct commands': commands.length,
    'classifications/s': Math.round(total / seconds),
    'mean per command': `${((seconds / total) * 1e6).toFixed(1)} µs`,
    verdicts: `${verdicts.auto} auto, ${verdicts.approve} approve, ${verdicts.deny} deny`,
  });
}
