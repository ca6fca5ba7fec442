import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  classify,
  defaultPolicy,
  loadPolicy,
  narrowPolicy,
  PolicyError,
  type Policy,
} from '../../operator/src/policy/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'dropops-policy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function policyFile(name: string, content: unknown, mode: number): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  chmodSync(path, mode);
  return path;
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyError);
    return (err as PolicyError).code;
  }
  return undefined;
}

describe('loadPolicy', () => {
  it('accepts a world-readable 0644 file and a private 0600 file', () => {
    const a = loadPolicy(policyFile('a.json', { mode: 'allowlist', allow: ['ls'] }, 0o644));
    expect(a.mode).toBe('allowlist');
    expect(a.deny).toEqual(defaultPolicy.deny);
    const b = loadPolicy(policyFile('b.json', { deny: [{ program: 'curl' }] }, 0o600));
    expect(classify('curl x', b).verdict).toBe('deny');
  });

  it('refuses files writable by group or others', () => {
    expect(codeOf(() => loadPolicy(policyFile('g.json', {}, 0o664)))).toBe('INSECURE_PERMISSIONS');
    expect(codeOf(() => loadPolicy(policyFile('o.json', {}, 0o646)))).toBe('INSECURE_PERMISSIONS');
    expect(codeOf(() => loadPolicy(policyFile('w.json', {}, 0o666)))).toBe('INSECURE_PERMISSIONS');
  });

  it('refuses invalid, unknown-field and missing files', () => {
    expect(codeOf(() => loadPolicy(policyFile('bad.json', '{', 0o600)))).toBe('INVALID');
    expect(codeOf(() => loadPolicy(policyFile('extra.json', { widen: true }, 0o600)))).toBe('INVALID');
    expect(codeOf(() => loadPolicy(policyFile('mode.json', { mode: 'open' }, 0o600)))).toBe('INVALID');
    expect(codeOf(() => loadPolicy(join(dir, 'missing.json')))).toBe('UNREADABLE');
  });

  it('allowlist mode denies every program not listed, wrappers included', () => {
    const p = loadPolicy(
      policyFile('allow.json', { mode: 'allowlist', allow: ['ls', 'grep', 'timeout'] }, 0o600),
    );
    expect(classify('ls -la | grep x', p).verdict).toBe('auto');
    expect(classify('cat f', p).verdict).toBe('deny');
    expect(classify('timeout 5 cat f', p).verdict).toBe('deny');
    expect(classify('ls $(id)', p).verdict).toBe('deny');
  });
});

describe('narrowPolicy', () => {
  const local: Policy = { ...defaultPolicy, mode: 'allowlist', allow: ['ls', 'cat', 'grep'] };

  it('adds deny rules, switches to a subset allowlist and removes auto programs', () => {
    const n = narrowPolicy(defaultPolicy, {
      deny: [{ program: 'ls', anyArg: ['/root'] }],
      removeAuto: ['cat'],
    });
    expect(classify('ls /root', n).verdict).toBe('deny');
    expect(classify('cat f', n).verdict).toBe('approve');
    expect(classify('cat f', defaultPolicy).verdict).toBe('auto');
    const a = narrowPolicy(local, { allowlist: ['ls', 'rm'] });
    expect(a.allow).toEqual(['ls']);
    expect(classify('rm x', a).verdict).toBe('deny');
  });

  it('refuses malformed input', () => {
    expect(() => narrowPolicy(local, { mode: 'denylist' })).toThrow(PolicyError);
    expect(() => narrowPolicy(local, 'x')).toThrow(PolicyError);
  });

  it('can never widen: every verdict is at least as strict as before', () => {
    const rank = { auto: 0, approve: 1, deny: 2 } as const;
    const names = ['ls', 'cat', 'grep', 'rm', 'sudo', 'find', 'sort', 'git'];
    const commands = [
      'ls -la',
      'cat f',
      'grep x f',
      'rm x',
      'sudo ls',
      'find . -name x',
      'sort f',
      'git status',
    ];
    fc.assert(
      fc.property(
        fc.constantFrom<Policy>(defaultPolicy, local),
        fc.record(
          {
            deny: fc.array(fc.record({ program: fc.constantFrom(...names, '*', 'g*') }), { maxLength: 3 }),
            allowlist: fc.subarray(names),
            removeAuto: fc.subarray(names),
          },
          { requiredKeys: [] },
        ),
        (base, narrowing) => {
          const narrowed = narrowPolicy(base, narrowing);
          for (const c of commands)
            expect(rank[classify(c, narrowed).verdict]).toBeGreaterThanOrEqual(
              rank[classify(c, base).verdict],
            );
          expect(narrowed.auto.every((p) => base.auto.includes(p))).toBe(true);
          if (base.mode === 'allowlist')
            expect(narrowed.allow.every((p) => base.allow.includes(p))).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});
