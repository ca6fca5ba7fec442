import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classify } from '../../operator/src/policy/index.ts';

const autoCommands = readFileSync(new URL('./corpus.jsonl', import.meta.url), 'utf8')
  .split('\n')
  .filter((line) => line.trim())
  .map((line) => JSON.parse(line) as { command: string; verdict: string })
  .filter((c) => c.verdict === 'auto' && c.command.length < 4000)
  .map((c) => c.command);

const writeConstructs = [
  '; rm x',
  ' > f',
  ' | tee f',
  ' $(rm x)',
  ' &',
  ' && touch f',
  ' >> f',
  ' 2> f',
  ' | sh',
  ' `rm x`',
];

describe('classifier properties', () => {
  it('has auto commands to mutate', () => {
    expect(autoCommands.length).toBeGreaterThan(100);
  });

  it('appending a write construct never yields auto', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...autoCommands),
        fc.constantFrom(...writeConstructs),
        (command, suffix) => {
          expect(classify(command + suffix).verdict).not.toBe('auto');
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('inserting an unknown flag after the program never yields auto', () => {
    const simple = autoCommands.filter(
      (c) => /^[a-z][\w.-]*( |$)/.test(c) && !/^(true|false|test|echo|printf)\b/.test(c),
    );
    fc.assert(
      fc.property(
        fc.constantFrom(...simple),
        fc.constantFrom('--frobnicate', '--zz-unknown', '-Q9W', '--del', '--output=/tmp/x'),
        (command, flag) => {
          const space = command.indexOf(' ');
          const mutated =
            space < 0 ? `${command} ${flag}` : `${command.slice(0, space)} ${flag}${command.slice(space)}`;
          expect(classify(mutated).verdict).not.toBe('auto');
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('never throws on garbage and never calls it auto unless it parses to read-only commands', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (garbage) => {
        const result = classify(garbage);
        expect(['auto', 'approve', 'deny']).toContain(result.verdict);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...'$(){}[]<>|&;`\'"\\!*?~=#\n -'.split(''), 'ls', 'rm', 'x'), {
          maxLength: 40,
        }),
        (parts) => {
          expect(() => classify(parts.join(''))).not.toThrow();
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('returns approve for non-string input rather than throwing', () => {
    expect(classify(undefined as unknown as string).verdict).toBe('approve');
    expect(classify('a'.repeat(5000)).verdict).toBe('approve');
  });
});
