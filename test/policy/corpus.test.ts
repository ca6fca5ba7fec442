import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { classify, type Verdict } from '../../operator/src/policy/index.ts';

interface Case {
  command: string;
  verdict: Verdict;
  family: string;
}

const corpus: Case[] = readFileSync(new URL('./corpus.jsonl', import.meta.url), 'utf8')
  .split('\n')
  .filter((line) => line.trim())
  .map((line) => JSON.parse(line) as Case);

describe('policy corpus', () => {
  it('is large and covers every verdict', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(400);
    for (const v of ['auto', 'approve', 'deny']) expect(corpus.some((c) => c.verdict === v)).toBe(true);
  });

  it('never lets an approve or deny case through as auto', () => {
    const leaked = corpus.filter((c) => c.verdict !== 'auto' && classify(c.command).verdict === 'auto');
    expect(leaked.map((c) => c.command)).toEqual([]);
  });

  it.each(corpus.map((c) => [c.family, c.command, c] as const))('%s: %j', (_family, _command, c) => {
    const result = classify(c.command);
    expect(result.verdict, result.reason).toBe(c.verdict);
    expect(result.reason.length).toBeGreaterThan(0);
  });
});

describe('reasons name the offending token', () => {
  it.each([
    ['find . -delete', '-delete'],
    ['ls > /tmp/x', '> /tmp/x'],
    ['rm x', '"rm"'],
    ['ls --del', '--del'],
    ['ѕudo ls', 'ѕudo'],
    ['PATH=/tmp ls', 'PATH'],
    ['sudo ls', 'sudo'],
  ])('%s', (command, token) => {
    expect(classify(command).reason).toContain(token);
  });
});
