import { readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { bin, exec, repoRoot, tempDir } from '../helpers.ts';
import { dropopsRealm } from './realm-type.ts';

const realmPath = join(repoRoot, 'compose/keycloak/dropops-realm.json');
const realmText = readFileSync(realmPath, 'utf8');
const work = tempDir('dropops-realm-');
afterAll(() => work.remove());
symlinkSync(join(repoRoot, 'node_modules'), join(work.path, 'node_modules'));
writeFileSync(
  join(work.path, 'tsconfig.json'),
  JSON.stringify({
    compilerOptions: {
      strict: true,
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      target: 'ES2022',
      noEmit: true,
      skipLibCheck: true,
      types: [],
    },
    files: ['check.ts'],
  }),
);

/**
 * Type-checks a realm against Keycloak's RealmRepresentation as an object literal, so that literal types
 * survive and unknown (misspelled) fields are reported too. Returns tsc's exit code and output.
 */
async function typeCheck(
  realm: unknown,
): Promise<{ code: number; output: string; lineOf: (key: string) => number }> {
  const body = JSON.stringify(realm, null, 2);
  const header = [
    "import type RealmRepresentation from '@keycloak/keycloak-admin-client/lib/defs/realmRepresentation.js';",
    'export const realm = ',
  ];
  writeFileSync(join(work.path, 'check.ts'), `${header.join('\n')}${body} satisfies RealmRepresentation;\n`);
  const lines = `${header.join('\n')}${body}`.split('\n');
  const result = await exec(bin('tsc'), ['-p', join(work.path, 'tsconfig.json')]);
  return {
    code: result.code,
    output: result.stdout + result.stderr,
    lineOf: (key) => lines.findIndex((line) => line.includes(`"${key}":`)) + 1,
  };
}

const copy = () => JSON.parse(realmText) as typeof dropopsRealm;

describe("the realm file against Keycloak's RealmRepresentation", () => {
  it('type-checks as it is', async () => {
    const result = await typeCheck(copy());
    expect(result.output).toBe('');
    expect(result.code).toBe(0);
  });

  it('fails on a wrong field type at the top', async () => {
    const bad = { ...copy(), bruteForceProtected: 'yes' };
    const result = await typeCheck(bad);
    expect(result.code).not.toBe(0);
    expect(result.output).toContain(`check.ts(${result.lineOf('bruteForceProtected')},`);
    expect(result.output).toMatch(/Type 'string' is not assignable to type 'boolean \| undefined'/);
  });

  it('fails on a wrong field type inside the client', async () => {
    const bad = copy();
    (bad.clients[0] as Record<string, unknown>).redirectUris = 'https://dropops.example.com/oidc/callback';
    const result = await typeCheck(bad);
    expect(result.code).not.toBe(0);
    expect(result.output).toContain(`check.ts(${result.lineOf('redirectUris')},`);
  });

  it('fails on a misspelled field, naming it', async () => {
    const { bruteForceProtected, ...rest } = copy();
    const result = await typeCheck({ ...rest, bruteForceProtectd: bruteForceProtected });
    expect(result.code).not.toBe(0);
    expect(result.output).toContain(`'"bruteForceProtectd"' does not exist in type 'RealmRepresentation'`);
  });
});

describe('what the realm grants', () => {
  const realm = dropopsRealm;
  const client = realm.clients.find((c) => c.clientId === 'dropops-relay')!;
  const admin = realm.users.find((u) => u.username === 'admin')!;

  it('is the dropops realm with brute-force protection, external SSL and short tokens', () => {
    expect(realm.realm).toBe('dropops');
    expect(realm.enabled).toBe(true);
    expect(realm.sslRequired).toBe('external');
    expect(realm.bruteForceProtected).toBe(true);
    expect(realm.failureFactor).toBeLessThanOrEqual(10);
    expect(realm.registrationAllowed).toBe(false);
    expect(realm.accessTokenLifespan).toBeLessThanOrEqual(600);
    expect(realm.revokeRefreshToken).toBe(true);
    expect(realm.passwordPolicy).toMatch(/length\((1[2-9]|[2-9]\d)\)/);
  });

  it('defines exactly the roles admin, approver and viewer', () => {
    expect(realm.roles.realm.map((r) => r.name).sort()).toEqual(['admin', 'approver', 'viewer']);
  });

  it('has a confidential relay client on the authorization code flow with PKCE S256 enforced', () => {
    expect(client.publicClient).toBe(false);
    expect(client.clientAuthenticatorType).toBe('client-secret');
    expect(client.standardFlowEnabled).toBe(true);
    expect(client.implicitFlowEnabled).toBe(false);
    expect(client.directAccessGrantsEnabled).toBe(false);
    expect(client.serviceAccountsEnabled).toBe(false);
    expect(client.attributes['pkce.code.challenge.method']).toBe('S256');
  });

  it('redirects only to the relay public URL, with no wildcard', () => {
    expect(client.redirectUris.length).toBeGreaterThan(0);
    for (const uri of [...client.redirectUris, ...client.webOrigins]) {
      expect(uri.startsWith('${DROPOPS_PUBLIC_URL}')).toBe(true);
      expect(uri).not.toContain('*');
    }
  });

  it('puts the realm roles into the ID and access tokens as the "roles" claim', () => {
    const mapper = client.protocolMappers.find(
      (m) => m.protocolMapper === 'oidc-usermodel-realm-role-mapper',
    )!;
    expect(mapper.config['claim.name']).toBe('roles');
    expect(mapper.config.multivalued).toBe('true');
    expect(mapper.config['access.token.claim']).toBe('true');
    expect(mapper.config['id.token.claim']).toBe('true');
  });

  it('makes a first admin with the admin role and a temporary password to change at first login', () => {
    expect(admin.enabled).toBe(true);
    expect(admin.realmRoles).toEqual(['admin']);
    expect(admin.requiredActions).toEqual(['UPDATE_PASSWORD']);
    expect(admin.credentials).toEqual([
      { type: 'password', value: '${DROPOPS_FIRST_ADMIN_PASSWORD}', temporary: true },
    ]);
  });

  it('commits no secret: the client secret and the password are placeholders Keycloak fills in', () => {
    expect(client.secret).toBe('${DROPOPS_OIDC_CLIENT_SECRET}');
    const placeholders = [...realmText.matchAll(/\$\{([A-Z0-9_]+)\}/g)].map((m) => m[1]);
    expect(placeholders).toContain('DROPOPS_OIDC_CLIENT_SECRET');
    // Every placeholder must reach Keycloak's environment, or Keycloak would import it literally.
    const compose = parse(readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8')) as {
      services: { keycloak: { environment: Record<string, string> } };
    };
    for (const name of placeholders)
      expect(Object.keys(compose.services.keycloak.environment)).toContain(name);
  });
});
