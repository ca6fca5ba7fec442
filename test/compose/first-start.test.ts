// The first-start pieces of the compose appliance, run for real without Docker: pki-init, the relay on the CA it
// made, the relay's healthcheck, and the PostgreSQL init script with the relay on the role it creates.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, startAppliance, type RunningAppliance } from '@dropops/appliance';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { capturedLogger } from '../support/appliance.ts';
import { backends } from '../support/services.ts';
import { exec, repoRoot, tempDir } from '../helpers.ts';

const pkiInit = join(repoRoot, 'compose/relay/pki-init.sh');
const healthcheck = join(repoRoot, 'compose/relay/healthcheck.js');
const initdb = join(repoRoot, 'compose/postgres/initdb/10-dropops-roles.sh');
const PATH = `${join(repoRoot, 'node_modules/.bin')}:${process.env.PATH}`;

const dir = tempDir('dropops-first-start-');
afterAll(() => dir.remove());

function layout(name: string) {
  const dataDir = join(dir.path, name, 'data');
  const keycloakTls = join(dir.path, name, 'keycloak-tls');
  mkdirSync(dataDir, { recursive: true });
  mkdirSync(keycloakTls, { recursive: true });
  const env = {
    PATH,
    DROPOPS_DATA_DIR: dataDir,
    KEYCLOAK_TLS_DIR: keycloakTls,
    DROPOPS_PUBLIC_HOST: 'dropops.example.com',
    DROPOPS_PUBLIC_IPS: '192.0.2.10',
  };
  return { dataDir, keycloakTls, env, pki: join(dataDir, 'pki') };
}

function startRelay(dataDir: string, databaseUrl?: string): Promise<RunningAppliance> {
  const config = loadConfig({ dataDir, port: 0, databaseUrl }, {});
  return startAppliance(config, { logger: capturedLogger('appliance').logger });
}

const runHealthcheck = (dataDir: string, port: number) =>
  exec(process.execPath, [healthcheck], { env: { DROPOPS_DATA_DIR: dataDir, DROPOPS_PORT: String(port) } });

describe('pki-init', () => {
  const site = layout('pki-init');

  it('creates the CA and a Keycloak certificate chained to it, once', async () => {
    const first = await exec(pkiInit, [], { env: site.env });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('created the CA');
    const pin = /CA pin (sha256\/\S+)/.exec(first.stdout)![1];

    const cert = join(site.keycloakTls, 'tls.crt');
    const verified = await exec('openssl', [
      'verify',
      '-CAfile',
      join(site.pki, 'root.crt.pem'),
      '-untrusted',
      join(site.pki, 'issuing.crt.pem'),
      cert,
    ]);
    expect(verified.stdout).toContain(': OK');
    const names = await exec('openssl', ['x509', '-in', cert, '-noout', '-ext', 'subjectAltName']);
    for (const name of ['DNS:dropops.example.com', 'DNS:keycloak', 'IP Address:192.0.2.10'])
      expect(names.stdout).toContain(name);
    expect(statSync(join(site.keycloakTls, 'tls.key')).mode & 0o777).toBe(0o600);
    // Only Keycloak's own key goes to its volume; the CA keys stay in the relay's.
    expect((await exec('ls', [site.keycloakTls])).stdout.split('\n').filter(Boolean)).toEqual([
      'tls.crt',
      'tls.key',
    ]);

    const rootBefore = readFileSync(join(site.pki, 'root.crt.pem'), 'utf8');
    const certBefore = readFileSync(cert, 'utf8');
    const second = await exec(pkiInit, [], { env: site.env });
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('is kept');
    expect(second.stdout).toContain(`CA pin ${pin}`);
    expect(readFileSync(join(site.pki, 'root.crt.pem'), 'utf8')).toBe(rootBefore);
    expect(readFileSync(cert, 'utf8')).toBe(certBefore);
  });

  it('refuses to run without its settings', async () => {
    const result = await exec(pkiInit, [], { env: { ...site.env, DROPOPS_PUBLIC_HOST: undefined } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('DROPOPS_PUBLIC_HOST is not set');
    expect((await exec(pkiInit, ['--help'])).code).toBe(0);
  });

  it('hands the relay a CA it starts on, and the healthcheck passes only while the relay answers', async () => {
    const init = await exec(pkiInit, [], { env: site.env });
    const pin = /CA pin (sha256\/\S+)/.exec(init.stdout)![1];
    const relay = await startRelay(site.dataDir);
    try {
      expect(relay.caPin).toBe(pin);
      const healthy = await runHealthcheck(site.dataDir, relay.port);
      expect(healthy.stderr).toBe('');
      expect(healthy.code).toBe(0);
    } finally {
      await relay.close();
    }
    const stopped = await runHealthcheck(site.dataDir, relay.port);
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toContain('relay unhealthy');
  });

  it('healthcheck trusts only this appliance: a relay with another CA fails it', async () => {
    const other = layout('other-appliance');
    const relay = await startRelay(other.dataDir);
    try {
      const result = await runHealthcheck(site.dataDir, relay.port);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/relay unhealthy: .*(certificate|self.signed|issuer)/i);
    } finally {
      await relay.close();
    }
  });
});

describe.skipIf(!backends().includes('postgresql'))('the PostgreSQL init script', () => {
  const server = new URL(process.env.DATABASE_URL ?? 'postgres://localhost');
  const suffix = randomBytes(4).toString('hex');
  const relayRole = `t_dropops_${suffix}`;
  const keycloakRole = `t_keycloak_${suffix}`;
  const admin = postgres(process.env.DATABASE_URL ?? '', { max: 1, onnotice: () => {} });
  afterAll(async () => {
    for (const name of [relayRole, keycloakRole]) {
      await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.unsafe(`DROP ROLE IF EXISTS ${name}`);
    }
    await admin.end();
  });
  const urlFor = (role: string, database: string) => {
    const url = new URL(server);
    url.username = role;
    url.password = 'not-checked-here';
    url.pathname = `/${database}`;
    return url.toString();
  };

  it('makes two non-superuser roles with a database each, and the relay migrates and serves on its own', async () => {
    const result = await exec(initdb, [], {
      env: {
        PGHOST: server.hostname,
        PGPORT: server.port || '5432',
        PGPASSWORD: decodeURIComponent(server.password) || undefined,
        POSTGRES_USER: decodeURIComponent(server.username) || 'postgres',
        DROPOPS_DB_USER: relayRole,
        KEYCLOAK_DB_USER: keycloakRole,
        DROPOPS_DB_PASSWORD: randomBytes(32).toString('hex'),
        // A quote in a password must stay a password, not become SQL.
        KEYCLOAK_DB_PASSWORD: `it's'; DROP ROLE ${relayRole}; --`,
      },
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const roles = await admin<
      { rolname: string; rolsuper: boolean; rolcreatedb: boolean; rolcreaterole: boolean }[]
    >`
      SELECT rolname, rolsuper, rolcreatedb, rolcreaterole FROM pg_roles
      WHERE rolname IN (${relayRole}, ${keycloakRole}) ORDER BY rolname`;
    expect(roles).toEqual([
      { rolname: relayRole, rolsuper: false, rolcreatedb: false, rolcreaterole: false },
      { rolname: keycloakRole, rolsuper: false, rolcreatedb: false, rolcreaterole: false },
    ]);

    // Keycloak's role may not even connect to the relay's database.
    const intruder = postgres(urlFor(keycloakRole, relayRole), { max: 1, onnotice: () => {} });
    await expect(intruder`SELECT 1`).rejects.toThrow(/permission denied for database/);
    await intruder.end();

    const site = layout('postgres');
    const relay = await startRelay(site.dataDir, urlFor(relayRole, relayRole));
    try {
      expect(relay.db.kind).toBe('postgresql');
      expect((await runHealthcheck(site.dataDir, relay.port)).code).toBe(0);
      const own = postgres(urlFor(relayRole, relayRole), { max: 1, onnotice: () => {} });
      const tables = await own<{ owner: string }[]>`
        SELECT tableowner AS owner FROM pg_tables WHERE tablename = 'operator_slots'`;
      await own.end();
      expect(tables).toEqual([{ owner: relayRole }]);
    } finally {
      await relay.close();
    }
  });
});
