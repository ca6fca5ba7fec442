import { chmodSync, mkdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  checkWritable,
  classify,
  defaultPolicy,
  loadPolicy,
  narrowPolicy,
  PolicyError,
  protectedTargets,
  writeTargets,
  type Policy,
} from '../../operator/src/policy/index.ts';
import { tempDir } from '../helpers.ts';

const tmp = tempDir('dropops-protected-');
afterAll(() => tmp.remove());
const T = realpathSync(tmp.path);
const stateDir = join(T, 'state', '.dropops');
mkdirSync(join(stateDir, 'data'), { recursive: true });
mkdirSync(join(T, 'free', 'sub'), { recursive: true });
mkdirSync(join(stateDir, 'dev'), { recursive: true });
symlinkSync('/etc', join(T, 'etc-link'));
symlinkSync('/etc/shadow', join(T, 'shadow-link'));
symlinkSync('/etc/sudoers.d/not-there-yet', join(T, 'dangling'));
symlinkSync(join(T, 'hop2'), join(T, 'hop1'));
symlinkSync('/boot', join(T, 'hop2'));
symlinkSync(join(T, 'loop-b'), join(T, 'loop-a'));
symlinkSync(join(T, 'loop-a'), join(T, 'loop-b'));
symlinkSync(stateDir, join(T, 'state-link'));
symlinkSync(join(stateDir, 'dev'), join(T, 'into-state'));
symlinkSync('/dev/null', join(T, 'null-link'));

const opts = { stateDir };
const refused = (path: string, policy: Policy = defaultPolicy, cwd = T) =>
  checkWritable(path, policy, { stateDir, cwd });

describe('checkWritable (the file-write tool)', () => {
  it.each([
    '/etc/shadow',
    '/etc/gshadow',
    '/etc/sudoers',
    '/etc/sudoers.d/90-evil',
    '/etc/passwd',
    '/boot/grub/grub.cfg',
    '/boot',
    '/proc/sys/net/ipv4/ip_forward',
    '/proc/sysrq-trigger',
    '/sys/kernel/mm/transparent_hugepage/enabled',
    '/dev/sda',
    '/root/.ssh/authorized_keys',
    `${homedir()}/.ssh/authorized_keys`,
    `${homedir()}/.ssh/authorized_keys2`,
    join(stateDir, 'data', 'dropops.db'),
    stateDir,
  ])('refuses %s', (path) => {
    const r = refused(path);
    expect(r, path).not.toBeNull();
    expect(r!.reason).toContain(path);
  });

  it.each([
    '/etc/hostname',
    '/etc/sudoers.dx',
    '/etc/shadowed',
    '/dev/null',
    '/dev/stdout',
    '/dev/stderr',
    '/dev/fd/2',
    '/proc/self/fd/1',
    '/tmp/x',
    join(T, 'free', 'file'),
    join(T, 'state', 'sibling'),
    join(T, 'null-link'),
  ])('allows %s', (path) => {
    expect(refused(path)).toBeNull();
  });

  it.each([
    ['//etc//shadow', T],
    ['/etc/./shadow', T],
    ['/etc/shadow/', T],
    ['/etc/shadow/.', T],
    ['/tmp/../etc/shadow', T],
    ['/etc/not-there/../shadow', T],
    ['/./boot/../boot/x', T],
    ['/ETC/SHADOW', T],
    ['/Boot/grub', T],
    ['shadow', '/etc'],
    ['../etc/shadow', '/tmp'],
    ['./.dropops/data/x', join(T, 'state')],
    ['.dropops', join(T, 'state')],
  ])('sees through %s (cwd %s)', (path, cwd) => {
    expect(refused(path, defaultPolicy, cwd)).not.toBeNull();
  });

  it('resolves symlinks of existing parents, the final one and dangling ones, in real temp dirs', () => {
    for (const p of [
      'etc-link/shadow',
      'etc-link/sudoers.d/new',
      // Physically etc-link/.. is /, so this is /etc/shadow (lexically it would be under the temp dir).
      'etc-link/../etc/shadow',
      'shadow-link',
      'dangling',
      'hop1/vmlinuz',
      'hop1',
      'state-link/data/dropops.db',
      'into-state/null',
      'into-state/../data',
    ])
      // Not path.join, which would take the `..` lexically.
      expect(refused(`${T}/${p}`), p).not.toBeNull();
    // A symlink loop resolves to nothing protected and does not hang or throw.
    expect(refused(join(T, 'loop-a'))).toBeNull();
    expect(refused(join(T, 'etc-link', 'hostname'))).toBeNull();
  });

  it('protects the state directory given at runtime, relative ones against the process directory', () => {
    const other = join(T, 'free');
    expect(checkWritable(join(other, 'sub', 'x'), defaultPolicy, { stateDir: other })).not.toBeNull();
    expect(
      checkWritable(join(process.cwd(), '.dropops', 'x'), defaultPolicy, { stateDir: '.dropops' }),
    ).not.toBeNull();
    expect(checkWritable(join(other, 'x'), defaultPolicy, { stateDir: '.dropops' })).toBeNull();
  });
});

describe('protectedTargets (approved commands)', () => {
  it('refuses a target inside a protected path, and a tree that holds one', () => {
    expect(protectedTargets({ paths: ['/etc'], trees: [] }, defaultPolicy, opts)).toEqual([]);
    const [tree] = protectedTargets({ paths: ['/etc'], trees: ['/etc'] }, defaultPolicy, opts);
    expect(tree!.reason).toMatch(/"\/etc" holds "\/etc\/shadow"/);
    expect(protectedTargets({ paths: [T], trees: [T] }, defaultPolicy, opts)[0]!.entry).toBe(stateDir);
    expect(protectedTargets({ paths: ['/home'], trees: ['/home'] }, defaultPolicy, opts).length).toBe(
      homedir().startsWith('/home/') ? 1 : 0,
    );
    expect(
      protectedTargets(
        { paths: [join(T, 'free'), '/etc/motd'], trees: [join(T, 'free')] },
        defaultPolicy,
        opts,
      ),
    ).toEqual([]);
  });

  it('reports every refused target', () => {
    const targets = writeTargets('cp x /etc/sudoers; rm /boot/a /tmp/b', { cwd: T });
    expect(targets.known).toBe(true);
    expect(protectedTargets(targets, defaultPolicy, opts).map((r) => r.path)).toEqual([
      '/etc/sudoers',
      '/boot/a',
    ]);
  });
});

describe('classify refuses approved commands that write protected paths', () => {
  const where = { cwd: T, stateDir };
  it.each([
    ['echo x > /etc/shadow', '/etc/shadow'],
    ['echo x >> /etc/sudoers', '/etc/sudoers'],
    ['cp evil /etc/sudoers.d/', '/etc/sudoers.d'],
    ['cd /etc && rm shadow', '/etc/shadow'],
    ['cd /etc; cp x passwd', '/etc/passwd'],
    ['rm -rf /tmp/..', 'holds'],
    ['mv /boot /tmp/old-boot', '/boot'],
    ['chmod -R 777 /etc', 'holds'],
    ['chown -R nobody /root', '/root'],
    ['tee -a /etc/sudoers < x', '/etc/sudoers'],
    ["sed -i 's/x/y/' /etc/passwd", '/etc/passwd'],
    ['dd if=x of=/boot/vmlinuz', '/boot/vmlinuz'],
    ['echo 1 > /proc/sys/net/ipv4/ip_forward', '/proc/sys'],
    ['echo b > /proc/sysrq-trigger', '/proc/sysrq-trigger'],
    ['cat x > /dev/sda1', '/dev/sda1'],
    ['echo key >> ~/.ssh/authorized_keys', 'authorized_keys'],
    ['echo x > etc-link/shadow', '/etc/shadow'],
    ['echo x > shadow-link', '/etc/shadow'],
    ['chmod 600 shadow-link', '/etc/shadow'],
    ['ln -sf /tmp/evil dangling', 'dangling'],
    ['rm -rf state', 'holds'],
    ['rm state/.dropops/data/dropops.db', 'dropops.db'],
    ['echo x > /etc/shadow; rm $UNKNOWN', '/etc/shadow'],
    ['timeout 5 truncate -s 0 /etc/shadow', '/etc/shadow'],
    ['echo x > //ETC/./Shadow/', 'Shadow'],
  ])('%s', (command, token) => {
    const result = classify(command, defaultPolicy, where);
    expect(result.verdict, result.reason).toBe('deny');
    expect(result.reason).toContain(token);
  });

  it.each([
    'chmod 777 /etc',
    'echo x > /etc/motd',
    'cp a free/b',
    'rm -rf free',
    'echo x > $FILE',
    "sh -c 'echo x > /etc/shadow'",
    'make install',
    'tar -xf a.tar -C /etc',
    'cat /etc/shadow > free/copy',
  ])('leaves %s to the human (approve)', (command) => {
    expect(classify(command, defaultPolicy, where).verdict).toBe('approve');
  });

  it('keeps read-only commands auto', () => {
    expect(classify('cat /etc/shadow', defaultPolicy, where).verdict).toBe('auto');
    expect(classify('ls > /dev/null 2>&1', defaultPolicy, where).verdict).toBe('auto');
  });
});

describe('protected paths in the policy file and from the appliance', () => {
  const file = (name: string, content: unknown) => {
    const path = join(T, name);
    writeFileSync(path, JSON.stringify(content));
    chmodSync(path, 0o600);
    return path;
  };

  it('defaults when the file does not say, replaces the list when it does', () => {
    expect(loadPolicy(file('p1.json', {})).protectedPaths).toEqual(defaultPolicy.protectedPaths);
    const own = loadPolicy(file('p2.json', { protectedPaths: ['/srv/secrets', `${T}/free/*/locked`] }));
    expect(checkWritable('/srv/secrets/key', own, opts)).not.toBeNull();
    expect(checkWritable(join(T, 'free', 'sub', 'locked', 'x'), own, opts)).not.toBeNull();
    expect(checkWritable(join(T, 'free', 'sub', 'open'), own, opts)).toBeNull();
    expect(checkWritable('/etc/shadow', own, opts)).toBeNull();
    // The state directory stays protected whatever the file says.
    expect(checkWritable(join(stateDir, 'x'), own, opts)).not.toBeNull();
  });

  it('refuses entries that are not absolute or ~/', () => {
    expect(() => loadPolicy(file('p3.json', { protectedPaths: ['etc/shadow'] }))).toThrow(PolicyError);
    expect(() => narrowPolicy(defaultPolicy, { protectedPaths: ['relative'] })).toThrow(PolicyError);
  });

  it('lets the appliance add protected paths', () => {
    const n = narrowPolicy(defaultPolicy, { protectedPaths: [`${T}/free/sub`] });
    expect(checkWritable(join(T, 'free', 'sub', 'x'), n, opts)).not.toBeNull();
    expect(classify(`echo > ${T}/free/sub/x`, n, { cwd: T, stateDir }).verdict).toBe('deny');
    expect(checkWritable(join(T, 'free', 'x'), n, opts)).toBeNull();
  });

  it('never lets the appliance remove one: a refused path stays refused under any narrowing', () => {
    const probes = [
      '/etc/shadow',
      '/boot/x',
      '/dev/sda',
      join(stateDir, 'x'),
      join(T, 'free', 'sub', 'x'),
      '/srv/app/conf',
    ];
    const local: Policy = { ...defaultPolicy, protectedPaths: [...defaultPolicy.protectedPaths, '/srv/app'] };
    fc.assert(
      fc.property(
        fc.record(
          {
            protectedPaths: fc.array(fc.constantFrom('/etc', '/srv/other', `${T}/free/sub`, '~/x', '/*/y'), {
              maxLength: 3,
            }),
            deny: fc.array(fc.record({ program: fc.constantFrom('ls', 'rm', '*') }), { maxLength: 2 }),
            removeAuto: fc.subarray(['ls', 'cat']),
          },
          { requiredKeys: [] },
        ),
        (narrowing) => {
          const narrowed = narrowPolicy(local, narrowing);
          for (const p of probes)
            if (checkWritable(p, local, opts)) expect(checkWritable(p, narrowed, opts), p).not.toBeNull();
          expect(narrowed.protectedPaths.slice(0, local.protectedPaths.length)).toEqual(local.protectedPaths);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('properties', () => {
  // Noise that leaves the path where it is: `.`, empty components, detours through missing names, a
  // start through a symlink to /, a trailing slash, and letter case.
  const noise = fc.constantFrom('.', '', 'nope/..', 'x/./..', './', 'a/b/../..');
  const composed = (components: string[]) =>
    fc
      .tuple(
        fc.array(fc.array(noise, { maxLength: 3 }), {
          minLength: components.length,
          maxLength: components.length,
        }),
        fc.boolean(),
        fc.boolean(),
        fc.array(fc.boolean(), { minLength: 64, maxLength: 64 }),
      )
      .map(([noises, trailing, viaLink, upper]) => {
        let i = 0;
        const flip = (c: string) => [...c].map((ch) => (upper[i++ % 64] ? ch.toUpperCase() : ch)).join('');
        const body = components.map((c, k) => [...noises[k]!, flip(c)].join('/')).join('/');
        return (viaLink ? `${T}/root-link/` : '/') + body + (trailing ? '/' : '');
      });
  symlinkSync('/', join(T, 'root-link'));

  it('every ./..//-composition of a protected path is refused', () => {
    const targets = [
      ['etc', 'shadow'],
      ['etc', 'sudoers.d', 'x'],
      ['boot', 'grub'],
      ['proc', 'sys', 'kernel', 'x'],
      ['dev', 'sda'],
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...targets).chain((c) => composed(c)),
        (path) => {
          expect(checkWritable(path, defaultPolicy, opts), path).not.toBeNull();
          expect(classify(`echo x > '${path}'`, defaultPolicy, { cwd: T, stateDir }).verdict, path).toBe(
            'deny',
          );
        },
      ),
      { numRuns: 500 },
    );
  });

  it('the same compositions of a free path are allowed (no over-refusal)', () => {
    const free = [...T.split('/').filter(Boolean), 'free', 'sub', 'file'];
    fc.assert(
      fc.property(composed(free), (path) => {
        expect(checkWritable(path, defaultPolicy, opts), path).toBeNull();
      }),
      { numRuns: 300 },
    );
  });
});
