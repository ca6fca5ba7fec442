import fc from 'fast-check';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { canonicalJson, vaultPath, verifyVault } from '../../operator/src/vault/index.ts';
import { filledVault } from './helpers.ts';

/** The same value with every object's keys in a shuffled insertion order. */
function reorder(value: unknown, seed: number): unknown {
  if (Array.isArray(value)) return value.map((v, i) => reorder(v, seed + i));
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    const shuffled = entries
      .map((e, i) => ({ e, k: (Math.imul(i + 1, 2654435761) ^ seed) >>> 0 }))
      .sort((a, b) => a.k - b.k)
      .map(({ e }) => e);
    return Object.fromEntries(shuffled.map(([k, v], i) => [k, reorder(v, seed * 31 + i)]));
  }
  return value;
}

describe('canonical encoding', () => {
  it('is deterministic under key reordering and round-trips', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.integer(), (value, seed) => {
        const a = canonicalJson(value);
        expect(canonicalJson(reorder(value, seed))).toBe(a);
        expect(canonicalJson(JSON.parse(a))).toBe(a);
        expect(a).not.toMatch(/\n/);
      }),
    );
  });

  it('is JSON with the keys of every object sorted by UTF-16 code unit', () => {
    const reference = (v: unknown): string => {
      if (Array.isArray(v)) return `[${v.map(reference).join(',')}]`;
      if (v && typeof v === 'object') {
        const keys = Object.keys(v).sort();
        return `{${keys.map((k) => `${JSON.stringify(k)}:${reference((v as Record<string, unknown>)[k])}`).join(',')}}`;
      }
      return JSON.stringify(v);
    };
    // Wide objects too, so both the small-object insertion sort and the built-in sort are exercised.
    const wide = fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 60 });
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), wide), (value) => {
        expect(canonicalJson(value)).toBe(reference(value));
      }),
    );
  });

  it('rejects non-finite numbers', () => {
    for (const n of [NaN, Infinity, -Infinity]) expect(() => canonicalJson({ n })).toThrow();
  });
});

describe('stored payloads', () => {
  const { dir } = filledVault(30);
  const path = vaultPath(dir);
  const reader = new Database(path, { readonly: true });
  const original = reader
    .prepare<{ seq: number; p: Buffer }>('SELECT seq, CAST(payload AS BLOB) AS p FROM events ORDER BY seq')
    .all();
  reader.close();

  it('any single-byte change to a stored payload is detected as an edit of that event', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: original.length - 1 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (row, at, xor) => {
          const { seq, p } = original[row]!;
          const changed = Buffer.from(p);
          const i = at % p.length;
          changed[i] = changed[i]! ^ xor;
          const db = new Database(path);
          // Stored as raw bytes so the change is exactly one byte, whether or not it stays valid UTF-8.
          const put = db.prepare('UPDATE events SET payload = CAST(? AS TEXT) WHERE seq = ?');
          try {
            put.run(changed, seq);
            expect(verifyVault(dir)).toMatchObject({ ok: false, firstBad: { seq, problem: 'edited' } });
          } finally {
            put.run(p, seq);
            db.close();
          }
        },
      ),
      { numRuns: 100 },
    );
    expect(verifyVault(dir).ok).toBe(true);
  });
});
