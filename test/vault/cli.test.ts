import { describe, expect, it } from 'vitest';
import { bin, exec } from '../helpers.ts';
import { filledVault, sqlite } from './helpers.ts';

describe('dropops-operator audit', () => {
  it('verify exits 0 on an intact vault and 1 naming the event edited with sqlite3', async () => {
    const { dir } = filledVault(20);
    const intact = await exec(bin('dropops-operator'), ['audit', 'verify', '--dir', dir]);
    expect(intact.code).toBe(0);
    expect(intact.stdout).toContain('vault intact: 21 events');
    const head = /head (\d+:[0-9a-f]{64})/.exec(intact.stdout)![1]!;

    const exported = await exec(bin('dropops-operator'), ['audit', 'export', '--dir', dir]);
    expect(exported.code).toBe(0);
    const lines = exported.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { seq: number; hash: string });
    expect(lines).toHaveLength(21);
    expect(`${lines.at(-1)!.seq}:${lines.at(-1)!.hash}`).toBe(head);

    await sqlite(dir, `UPDATE events SET payload = '{"i":6,"text":"forged"}' WHERE seq = 7`);
    const tampered = await exec(bin('dropops-operator'), ['audit', 'verify', '--dir', dir]);
    expect(tampered.code).toBe(1);
    expect(tampered.stdout).toMatch(/first bad event seq 7\b.*edited/);

    const badWitness = await exec(bin('dropops-operator'), [
      'audit',
      'verify',
      '--dir',
      dir,
      '--witness',
      'nope',
    ]);
    expect(badWitness.code).toBe(2);
  });

  it('checks against the relay witness, so a cut-off tail is found', async () => {
    const { dir } = filledVault(10);
    const before = await exec(bin('dropops-operator'), ['audit', 'verify', '--dir', dir]);
    const witness = /head (\d+:[0-9a-f]{64})/.exec(before.stdout)![1]!;
    await sqlite(dir, 'DELETE FROM events WHERE seq > 8');
    expect((await exec(bin('dropops-operator'), ['audit', 'verify', '--dir', dir])).code).toBe(0);
    const against = await exec(bin('dropops-operator'), [
      'audit',
      'verify',
      '--dir',
      dir,
      '--witness',
      witness,
    ]);
    expect(against.code).toBe(1);
    expect(against.stdout).toContain('truncated');
  });
});
