import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { findSecrets, redactText } from '../../operator/src/redact/index.ts';

interface Case {
  input: string;
  expected: string;
  family: string;
  must?: boolean;
}

const cases: Case[] = readFileSync(new URL('./corpus.jsonl', import.meta.url), 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => JSON.parse(l) as Case);

const MARKER = /\[REDACTED:[a-z0-9-]+\]/g;

describe('redaction corpus', () => {
  it('has a broad corpus', () => {
    expect(cases.length).toBeGreaterThanOrEqual(250);
    expect(cases.filter((c) => c.input === c.expected).length).toBeGreaterThan(80);
  });

  it('meets precision and recall over secret spans', () => {
    // Secret spans are counted per marker in the expected text: a case's secrets are true positives
    // when the output matches exactly, misses when any survives. Changed benign text, or markers the
    // expected text does not have, count as false positives.
    let tp = 0;
    let fn = 0;
    let fp = 0;
    const failures: string[] = [];
    for (const c of cases) {
      const got = redactText(c.input);
      const want = (c.expected.match(MARKER) ?? []).length;
      const have = (got.match(MARKER) ?? []).length;
      if (got === c.expected) {
        tp += want;
        continue;
      }
      failures.push(
        `${c.family}${c.must ? ' (must)' : ''}: ${JSON.stringify(c.input)}\n  -> ${JSON.stringify(got)}`,
      );
      if (want === 0) fp += Math.max(1, have);
      else {
        // Credit the markers that landed where expected, line by line.
        const wantLines = c.expected.split('\n');
        const gotLines = got.split('\n');
        let hit = 0;
        for (let i = 0; i < wantLines.length; i++) {
          if (wantLines[i] === gotLines[i]) hit += (wantLines[i]!.match(MARKER) ?? []).length;
        }
        tp += hit;
        fn += want - hit;
        fp += Math.max(0, have - hit - (want - hit));
      }
    }
    const recall = tp / (tp + fn);
    const precision = tp / (tp + fp);
    console.log(
      `redaction corpus: ${cases.length} cases, recall ${recall.toFixed(4)}, precision ${precision.toFixed(4)} (tp ${tp}, fn ${fn}, fp ${fp})`,
    );
    if (failures.length > 0) console.log(failures.join('\n'));
    expect(recall).toBeGreaterThanOrEqual(0.97);
    expect(precision).toBeGreaterThanOrEqual(0.97);
  });

  it('gets every must case exactly right', () => {
    const must = cases.filter((c) => c.must);
    expect(must.length).toBeGreaterThan(50);
    for (const c of must) expect(redactText(c.input), c.family).toBe(c.expected);
  });

  it('reports sorted, non-overlapping spans that match redactText', () => {
    for (const c of cases) {
      const spans = findSecrets(c.input);
      let at = 0;
      let rebuilt = '';
      for (const s of spans) {
        expect(s.start).toBeGreaterThanOrEqual(at);
        expect(s.end).toBeGreaterThan(s.start);
        rebuilt += c.input.slice(at, s.start) + `[REDACTED:${s.kind}]`;
        at = s.end;
      }
      expect(rebuilt + c.input.slice(at)).toBe(redactText(c.input));
    }
  });
});
