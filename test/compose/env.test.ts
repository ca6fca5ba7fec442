import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ENV_SPEC, parseEnvFile, secretWeakness } from '../../scripts/check-env.ts';
import { exec, repoRoot, tempDir } from '../helpers.ts';

const generate = join(repoRoot, 'scripts/generate-env.sh');
const checkEnv = join(repoRoot, 'scripts/check-env');
const SECRETS = Object.keys(ENV_SPEC).filter((name) => ENV_SPEC[name]!.kind === 'secret');

const dir = tempDir('dropops-env-');
afterAll(() => dir.remove());
let files = 0;
const newPath = () => join(dir.path, `env-${++files}`, '.env');

async function generated(args: string[] = []): Promise<{ path: string; values: Record<string, string> }> {
  const path = newPath();
  await exec('mkdir', ['-p', join(path, '..')]);
  const result = await exec(generate, ['--host', 'dropops.example.com', '--output', path, ...args]);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return { path, values: parseEnvFile(readFileSync(path, 'utf8')) };
}

/** Writes settings as an env file and runs check-env on it. */
async function check(values: Record<string, string | undefined>) {
  const path = newPath();
  await exec('mkdir', ['-p', join(path, '..')]);
  const lines = Object.entries(values)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${v}`);
  writeFileSync(path, lines.join('\n') + '\n', { mode: 0o600 });
  return exec(checkEnv, ['--file', path]);
}

describe('scripts/generate-env.sh', () => {
  it('writes every setting check-env knows, with mode 0600, and the result passes check-env', async () => {
    const { path, values } = await generated(['--ips', '192.0.2.10']);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(Object.keys(values).sort()).toEqual(Object.keys(ENV_SPEC).sort());
    expect(values.DROPOPS_PUBLIC_HOST).toBe('dropops.example.com');
    expect(values.DROPOPS_PUBLIC_IPS).toBe('192.0.2.10');
    const result = await exec(checkEnv, ['--file', path]);
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain('is usable');
    expect(result.code).toBe(0);
  });

  it('makes every secret fresh: all different, and different on the next run', async () => {
    const a = (await generated()).values;
    const b = (await generated()).values;
    const secrets = SECRETS.flatMap((name) => [a[name]!, b[name]!]);
    expect(new Set(secrets).size).toBe(secrets.length);
    for (const name of SECRETS) expect(a[name]!.length).toBeGreaterThanOrEqual(40);
  });

  it('refuses to overwrite an existing file without --force, and replaces it with --force', async () => {
    const { path } = await generated();
    const before = readFileSync(path, 'utf8');
    const refused = await exec(generate, ['--host', 'dropops.example.com', '--output', path]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('already exists');
    expect(refused.stderr).toContain('--force');
    expect(readFileSync(path, 'utf8')).toBe(before);

    const forced = await exec(generate, ['--host', 'dropops.example.com', '--output', path, '--force']);
    expect(forced.code).toBe(0);
    expect(readFileSync(path, 'utf8')).not.toBe(before);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('explains itself and refuses a bad command line with exit code 2', async () => {
    const help = await exec(generate, ['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--force');
    expect(help.stdout).toContain('Exit codes');
    for (const args of [['--bogus'], ['--host'], ['--host', 'not a name'], ['--https-port', '70000']]) {
      const result = await exec(generate, [...args, '--output', newPath()]);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toMatch(/generate-env\.sh: /);
    }
  });
});

describe('scripts/check-env', () => {
  it('refuses each missing secret, naming the variable', async () => {
    const { values } = await generated();
    for (const name of SECRETS) {
      const result = await check({ ...values, [name]: undefined });
      expect(result.code, name).toBe(1);
      expect(result.stderr, name).toContain(`MISSING ${name}:`);
      expect(result.stderr, name).toContain('scripts/generate-env.sh');
    }
  });

  it('refuses each weak secret, naming the variable and the weakness', async () => {
    const { values } = await generated();
    const weak: [string, RegExp][] = [
      ['changeme', /well-known word "changeme"/],
      ['Sup3rS3cretPassw0rd!2024xyz', /well-known word/],
      ['9f86d081884c7d65', /16 characters long/],
      ['a'.repeat(40), /too little entropy/],
      ['abab'.repeat(10), /too little entropy/],
      ['0123456789abcdefghijklmnopqrstuvwxyz', /run of repeated or consecutive/],
      ['x7Qz'.repeat(8), /too little entropy/],
    ];
    for (const [index, name] of SECRETS.entries()) {
      const [value, why] = weak[index % weak.length]!;
      const result = await check({ ...values, [name]: value });
      expect(result.code, `${name}=${value}`).toBe(1);
      expect(result.stderr, `${name}=${value}`).toContain(`WEAK ${name}:`);
      expect(result.stderr, `${name}=${value}`).toMatch(why);
      // Only that variable is named.
      expect(result.stderr.match(/^check-env: (WEAK|MISSING|INVALID) /gm)).toHaveLength(1);
    }
  });

  it('refuses malformed settings and a clash of the two ports', async () => {
    const { values } = await generated();
    const result = await check({
      ...values,
      DROPOPS_PUBLIC_HOST: '10.0.0.1',
      DROPOPS_PUBLIC_IPS: '10.0.0.1,not-an-ip',
      KEYCLOAK_HTTPS_PORT: values.DROPOPS_HTTPS_PORT,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('INVALID DROPOPS_PUBLIC_HOST:');
    expect(result.stderr).toContain('"not-an-ip" is not an IP address');
    expect(result.stderr).toContain('INVALID KEYCLOAK_HTTPS_PORT:');
  });

  it('checks its own environment with --environment (the compose step)', async () => {
    const { values } = await generated();
    const ok = await exec(checkEnv, ['--environment'], { env: values });
    expect(ok.code).toBe(0);
    const weak = await exec(checkEnv, ['--environment'], { env: { ...values, REDIS_PASSWORD: 'password' } });
    expect(weak.code).toBe(1);
    expect(weak.stderr).toContain('WEAK REDIS_PASSWORD:');
  });

  it('names an unreadable or malformed file, and a bad command line, with their exit codes', async () => {
    const missing = await exec(checkEnv, ['--file', join(dir.path, 'absent.env')]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('ENV_FILE_UNREADABLE');
    const path = newPath();
    await exec('mkdir', ['-p', join(path, '..')]);
    writeFileSync(path, 'POSTGRES_PASSWORD\n');
    const malformed = await exec(checkEnv, ['--file', path]);
    expect(malformed.code).toBe(1);
    expect(malformed.stderr).toContain('line 1 is not KEY=value');
    expect((await exec(checkEnv, ['--bogus'])).code).toBe(2);
    const help = await exec(checkEnv, ['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Exit codes');
  });

  it('accepts what openssl makes and refuses what people type', () => {
    expect(
      secretWeakness('3f7c1e9a0b5d4c2e8f6a1b3c5d7e9f0a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e'),
    ).toBeUndefined();
    expect(secretWeakness('kK3+9vQ/ZpR2mW7xT4bN8cY1hJ6fD0sL')).toBeUndefined();
    for (const typed of ['password123456789012345678', 'correct horse battery', 'qwertyuiopasdfghjklzxcvbnm'])
      expect(secretWeakness(typed), typed).toBeDefined();
  });
});
