import { request } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '@dropops/appliance';
import { bin, exec, tempDir } from '../helpers.ts';
import { startTestAppliance, type TestAppliance } from '../support/appliance.ts';

describe('dropops-appliance admin verbs', () => {
  let relay: TestAppliance;
  const cli = (...args: string[]) => exec(bin('dropops-appliance'), [...args, '--data-dir', relay.dataDir]);

  beforeAll(async () => {
    relay = await startTestAppliance('pglite');
  });
  afterAll(async () => relay?.stop());

  it('creates a slot, shows the key once with the enroll command, and lists it', async () => {
    const created = await cli('operator', 'create', '--org', 'acme', '--name', 'db-1');
    expect(created.code).toBe(0);
    const key = /API key[^:]*: (dok_\S+)/.exec(created.stdout)?.[1];
    expect(key).toBeDefined();
    expect(created.stdout).toContain(`--ca-pin ${relay.caPin}`);
    const listed = await cli('operator', 'list', '--json');
    const operators = JSON.parse(listed.stdout) as { name: string; keyState: string }[];
    expect(operators).toEqual([expect.objectContaining({ name: 'db-1', keyState: 'active' })]);
    // The key is stored only as a hash.
    const rows = await relay.db.sql<{ api_key_hash: string }[]>`SELECT api_key_hash FROM operator_slots`;
    expect(rows[0]!.api_key_hash).toMatch(/^scrypt\$/);
    expect(rows[0]!.api_key_hash).not.toContain(key!.split('_')[2]);

    const duplicate = await cli('operator', 'create', '--org', 'acme', '--name', 'db-1');
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toContain('ALREADY_EXISTS');
  });

  it('explains bad input, missing operators, offline operators and a stopped appliance with exit codes', async () => {
    const bad = await cli('operator', 'create', '--org', 'Not Valid', '--name', 'x');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('BAD_REQUEST');
    expect((await cli('operator', 'create', '--org', 'acme')).code).toBe(2);
    const missing = await cli('operator', 'ping', 'nope');
    expect(missing.stderr).toContain('OPERATOR_NOT_FOUND');
    expect(missing.code).toBe(1);
    const offline = await cli('operator', 'ping', 'db-1');
    expect(offline.stderr).toContain('OPERATOR_OFFLINE');
    expect(offline.code).toBe(3);
    for (const result of [bad, missing, offline]) expect(result.stderr).not.toMatch(/\n\s+at /);

    const empty = tempDir();
    try {
      const none = await exec(bin('dropops-appliance'), ['operator', 'list', '--data-dir', empty.path]);
      expect(none.code).toBe(3);
      expect(none.stderr).toContain('APPLIANCE_NOT_FOUND');
    } finally {
      empty.remove();
    }
  });

  it('rejects the admin API without the token or with a wrong one', async () => {
    const ask = (headers: Record<string, string>) =>
      new Promise<{ status: number; body: { error?: { code: string } } }>((resolve, reject) => {
        const req = request(
          new URL('/api/operators', relay.url),
          { ca: relay.ca.rootCertPem, headers },
          (res) => {
            let text = '';
            res.on('data', (c: Buffer) => (text += c));
            res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
          },
        );
        req.on('error', reject);
        req.end();
      });
    const attempts: Record<string, string>[] = [
      {},
      { authorization: 'Bearer wrong' },
      { authorization: relay.adminToken },
    ];
    for (const headers of attempts) {
      const answer = await ask(headers);
      expect(answer.status).toBe(401);
      expect(answer.body.error?.code).toBe('UNAUTHENTICATED');
    }
    expect((await ask({ authorization: `Bearer ${relay.adminToken}` })).status).toBe(200);
  });

  it('validates its settings and names the variable to fix', () => {
    expect(() => loadConfig({ port: 'eighty' }, {})).toThrowError(/port \(DROPOPS_PORT\)/);
    expect(() => loadConfig({}, { DATABASE_URL: 'not a url' })).toThrowError(/DATABASE_URL/);
    expect(loadConfig({}, { DROPOPS_PORT: '9443' }).port).toBe(9443);
  });
});
