// Approved commands and write_file through a real relay and operator: what they change lands in the host's
// Ledger Mirror (one commit per file, naming the execution and the approver), the vault's FILE_MUTATION
// events carry those commits, and the relay keeps only their ids.
import { createHash, randomUUID } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExecAccepted, restoreFileCommand, writeFileCommand } from '@dropops/protocol';
import { signApproval } from '../../appliance/src/approvals/tokens.ts';
import { ADMIN_IDENTITY } from '../../appliance/src/http/admin-auth.ts';
import type { ExecOutcome } from '../../appliance/src/executions/service.ts';
import { ledgerPath } from '../../operator/src/ledger/index.ts';
import { MAX_MIRRORED_FILES } from '../../operator/src/mirror/change-mirror.ts';
import { bin, exec as run, tempDir } from '../helpers.ts';
import { git } from '../ledger/helpers.ts';
import { addOperator, type TestOperator } from '../jobs/support.ts';
import { startTestAppliance, type TestAppliance } from '../support/appliance.ts';
import { backends } from '../support/services.ts';

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const b64 = (text: string) => Buffer.from(text).toString('base64');

interface VaultEvent {
  type: string;
  payload: Record<string, unknown>;
}

describe.each(backends())('file changes through the link on %s', (backend) => {
  let relay: TestAppliance;
  let work: ReturnType<typeof tempDir>;
  let operator: TestOperator;
  let stateDir: string;
  let cwd: string;
  let ledgerDir: string;

  beforeAll(async () => {
    relay = await startTestAppliance(backend);
    work = tempDir();
    operator = await addOperator(relay.admin, relay, realpathSync(work.path), 'files-1');
    ({ stateDir, cwd } = operator);
    ledgerDir = ledgerPath(stateDir);
    await operator.start();
  });
  afterAll(async () => {
    await operator?.stop();
    await relay?.stop();
    work?.remove();
  });

  const route = (verb: string) => `/api/operators/${operator.id}/${verb}`;
  const exec = (command: string, approve = false) =>
    relay.admin.call<ExecOutcome>('POST', route('exec'), { command, approve });
  const write = (body: {
    path: string;
    content: string;
    expectedSha256?: string | null;
    approve?: boolean;
  }) => relay.admin.call<ExecOutcome>('POST', route('write'), { approve: true, ...body });
  /** A write request straight through the hub, as a relay that lies could send it. */
  const rawWrite = (body: { path: string; content: string; approval?: string }, executionId = randomUUID()) =>
    relay.hub.ask(operator.id, { kind: 'write', executionId, ...body }, ExecAccepted);
  const restore = (body: { path: string; commit: string; approve?: boolean }) =>
    relay.admin.call<ExecOutcome>('POST', route('restore'), { approve: true, ...body });
  const rawRestore = (
    body: { path: string; commit: string; approval?: string },
    executionId = randomUUID(),
  ) => relay.hub.ask(operator.id, { kind: 'restore', executionId, ...body }, ExecAccepted);
  const token = async (command: string, executionId: string) =>
    (
      await signApproval(relay.ca.approvalKey.privateKey, {
        operatorId: operator.id,
        command,
        approver: 'carol@example.org',
        executionId,
      })
    ).token;
  const refusalOf = (promise: Promise<unknown>) =>
    promise.then(
      () => null,
      (err: { code?: string }) => err.code,
    );
  const events = async (type: string): Promise<VaultEvent[]> => {
    const history = await relay.admin.call<{ events: (VaultEvent & { type: string })[] }>(
      'POST',
      route('history'),
      { limit: 500 },
    );
    return history.events.filter((e) => e.type === type);
  };
  const trailer = (commit: string, key: string) =>
    git(ledgerDir, 'log', '-1', `--format=%(trailers:key=${key},valueonly)`, commit).trim();

  it('ledgers an approved command: one commit per file, named by execution and approver, restorable', async () => {
    const config = join(cwd, 'config.txt');
    const other = join(cwd, 'other.txt');
    writeFileSync(config, 'old setting\n');
    const run1 = await exec("printf 'new setting\\n' > config.txt && echo made > other.txt", true);
    expect(run1.mode).toBe('approved');
    expect(run1.result.exitCode).toBe(0);
    expect(readFileSync(config, 'utf8')).toBe('new setting\n');

    const commits = run1.result.ledgerCommits!;
    expect(commits).toHaveLength(2);
    for (const commit of commits) {
      expect(trailer(commit, 'Execution-Id')).toBe(run1.executionId);
      expect(trailer(commit, 'Approved-By')).toBe(ADMIN_IDENTITY);
      // Each commit changes exactly one file.
      expect(git(ledgerDir, 'show', '--format=', '--name-only', commit).trim().split('\n')).toHaveLength(1);
    }
    const [configCommit] = commits.filter((c) =>
      git(ledgerDir, 'show', '--name-only', c).includes('config.txt'),
    );
    expect(git(ledgerDir, 'show', `${configCommit}:${config.slice(1)}`)).toBe('new setting\n');
    // The snapshot before the run holds the old content: the commit's parent chain has it.
    expect(git(ledgerDir, 'show', `${configCommit}^:${config.slice(1)}`)).toBe('old setting\n');

    const mutations = (await events('FILE_MUTATION')).filter(
      (e) => e.payload.executionId === run1.executionId,
    );
    expect(mutations.map((e) => e.payload.commit).sort()).toEqual([...commits].sort());
    expect(mutations.every((e) => e.payload.approver === ADMIN_IDENTITY)).toBe(true);
    // The relay keeps the commit ids with the run, and no byte of the files.
    const [row] = await relay.db.sql<{ ledger_commits: string[] }[]>`
      SELECT ledger_commits FROM executions WHERE id = ${run1.executionId}`;
    expect([...row!.ledger_commits].sort()).toEqual([...commits].sort());
    expect(JSON.stringify(run1)).not.toContain('new setting');

    // The host's own user restores the old version with the stock verb, beside the running operator.
    const restored = await run(bin('dropops-operator'), [
      'ledger',
      'restore',
      config,
      '--to',
      `${configCommit}^`,
      '--dir',
      stateDir,
    ]);
    expect(restored.code, restored.stderr).toBe(0);
    expect(readFileSync(config, 'utf8')).toBe('old setting\n');
    expect(existsSync(other)).toBe(true);
    git(ledgerDir, 'fsck', '--strict');
  });

  it('mirrors every file under a tree a command removes, and refuses a tree too large to mirror', async () => {
    mkdirSync(join(cwd, 'logs', 'old'), { recursive: true });
    writeFileSync(join(cwd, 'logs', 'a.log'), 'a\n');
    writeFileSync(join(cwd, 'logs', 'old', 'b.log'), 'b\n');
    const removed = await exec('rm -r logs', true);
    expect(removed.result.exitCode).toBe(0);
    expect(removed.result.ledgerCommits).toHaveLength(2);
    for (const commit of removed.result.ledgerCommits!)
      expect(git(ledgerDir, 'show', '--format=', '--name-status', commit)).toMatch(/^D\t.*logs\/.*\.log\n$/);

    mkdirSync(join(cwd, 'big'));
    for (let i = 0; i <= MAX_MIRRORED_FILES; i++) writeFileSync(join(cwd, 'big', `f${i}`), '');
    expect(await refusalOf(exec('rm -r big', true))).toBe('PATH_REFUSED');
    expect(readdirSync(join(cwd, 'big'))).toHaveLength(MAX_MIRRORED_FILES + 1);
  });

  it('refuses an approved command that writes into the operator state directory', async () => {
    expect(await refusalOf(exec('touch ../state/planted', true))).toBe('PATH_REFUSED');
    expect(existsSync(join(stateDir, 'planted'))).toBe(false);
  });

  it('writes a file with write_file atomically, keeping its mode, and ledgers it', async () => {
    const path = join(cwd, 'app.conf');
    writeFileSync(path, 'port = 80\n');
    chmodSync(path, 0o640);
    const inode = statSync(path).ino;

    // Without an approval nothing is written.
    expect(await refusalOf(write({ path, content: b64('port = 81\n'), approve: false }))).toBe(
      'APPROVAL_REQUIRED',
    );
    // An approval over content that changed since it was reviewed writes nothing either.
    expect(
      await refusalOf(write({ path, content: b64('port = 81\n'), expectedSha256: sha256('port = 79\n') })),
    ).toBe('FILE_CHANGED');
    expect(readFileSync(path, 'utf8')).toBe('port = 80\n');

    const done = await write({ path, content: b64('port = 8080\n'), expectedSha256: sha256('port = 80\n') });
    expect(done.mode).toBe('approved');
    expect(done.result.error).toBeNull();
    expect(done.result.written).toEqual({
      bytes: 12,
      sha256: sha256('port = 8080\n'),
      previousSha256: sha256('port = 80\n'),
    });
    expect(readFileSync(path, 'utf8')).toBe('port = 8080\n');
    expect(statSync(path).mode & 0o7777).toBe(0o640);
    // Replaced by a rename: a new inode, and no temporary file left beside it.
    expect(statSync(path).ino).not.toBe(inode);
    expect(readdirSync(cwd).filter((n) => n.includes('dropops'))).toEqual([]);

    const [commit] = done.result.ledgerCommits!;
    expect(done.result.ledgerCommits).toHaveLength(1);
    expect(git(ledgerDir, 'show', `${commit}:${path.slice(1)}`)).toBe('port = 8080\n');
    expect(git(ledgerDir, 'show', `${commit}^:${path.slice(1)}`)).toBe('port = 80\n');
    expect(trailer(commit!, 'Execution-Id')).toBe(done.executionId);
    expect(trailer(commit!, 'Approved-By')).toBe(ADMIN_IDENTITY);
    const [mutation] = (await events('FILE_MUTATION')).filter(
      (e) => e.payload.executionId === done.executionId,
    );
    expect(mutation!.payload).toMatchObject({ commit, path, approver: ADMIN_IDENTITY });
    const [row] = await relay.db.sql<{ kind: string; state: string; command_sha256: string }[]>`
      SELECT kind, state, command_sha256 FROM executions WHERE id = ${done.executionId}`;
    expect(row).toMatchObject({
      kind: 'write',
      state: 'finished',
      command_sha256: sha256(writeFileCommand(path, sha256('port = 8080\n'), sha256('port = 80\n'))),
    });

    // --create semantics: a new file only where none is.
    const fresh = join(cwd, 'fresh.conf');
    const created = await write({ path: fresh, content: b64('new\n'), expectedSha256: null });
    expect(created.result.written?.previousSha256).toBeNull();
    expect(statSync(fresh).mode & 0o777).toBe(0o644);
    expect(await refusalOf(write({ path: fresh, content: b64('again\n'), expectedSha256: null }))).toBe(
      'FILE_CHANGED',
    );
    expect(readFileSync(fresh, 'utf8')).toBe('new\n');
  });

  it('refuses write_file to protected paths even with a valid approval', async () => {
    const victim = join(stateDir, 'operator.json');
    const before = readFileSync(victim);
    symlinkSync(victim, join(cwd, 'innocent.json'));
    for (const path of [victim, join(cwd, 'innocent.json'), '/etc/shadow', join(cwd, '..', 'state', 'x')])
      expect(await refusalOf(write({ path, content: b64('{}') })), path).toBe('PATH_REFUSED');
    expect(readFileSync(victim).equals(before)).toBe(true);
    expect(existsSync(join(stateDir, 'x'))).toBe(false);
    const denials = await events('DENIAL');
    expect(denials.some((d) => String(d.payload.reason).startsWith('PATH_REFUSED'))).toBe(true);
  });

  it('refuses a token for other content (WRONG_COMMAND) and a replayed token, writing nothing', async () => {
    const path = join(cwd, 'motd');
    writeFileSync(path, 'hello\n');
    const id = randomUUID();
    const approvedFor = await token(writeFileCommand(path, sha256('approved\n')), id);
    expect(await refusalOf(rawWrite({ path, content: b64('evil\n'), approval: approvedFor }, id))).toBe(
      'APPROVAL_REJECTED',
    );
    expect(readFileSync(path, 'utf8')).toBe('hello\n');
    const denials = await events('DENIAL');
    expect(denials.some((d) => String(d.payload.reason).includes('WRONG_COMMAND'))).toBe(true);

    // The same token with the content it names works once; replayed, for this execution or another, it does not.
    await rawWrite({ path, content: b64('approved\n'), approval: approvedFor }, id);
    expect(readFileSync(path, 'utf8')).toBe('approved\n');
    writeFileSync(path, 'changed by hand\n');
    expect(await refusalOf(rawWrite({ path, content: b64('approved\n'), approval: approvedFor }, id))).toBe(
      'ALREADY_EXECUTED',
    );
    expect(await refusalOf(rawWrite({ path, content: b64('approved\n'), approval: approvedFor }))).toBe(
      'APPROVAL_REJECTED',
    );
    expect(readFileSync(path, 'utf8')).toBe('changed by hand\n');
    expect((await events('DENIAL')).some((d) => String(d.payload.reason).includes('REPLAYED'))).toBe(true);
  });

  /** A file written twice through the link: the commits holding its first and its second version. */
  const twoVersions = async (name: string) => {
    const path = join(cwd, name);
    const first = await write({ path, content: b64('version 1\n') });
    const second = await write({ path, content: b64('version 2\n') });
    return { path, v1: first.result.ledgerCommits![0]!, v2: second.result.ledgerCommits![0]! };
  };

  it('restores a file to a ledger version only with an approval, as a commit naming execution and approver', async () => {
    const { path, v1, v2 } = await twoVersions('restore.conf');
    writeFileSync(path, 'drifted by hand\n');

    expect(await refusalOf(restore({ path, commit: `${v2}^`, approve: false }))).toBe('APPROVAL_REQUIRED');
    expect(readFileSync(path, 'utf8')).toBe('drifted by hand\n');
    // A version the ledger does not have is refused with its own code; HEAD and prefixes are not versions.
    expect(await refusalOf(restore({ path, commit: 'f'.repeat(40) }))).toBe('UNKNOWN_COMMIT');
    expect(await refusalOf(restore({ path, commit: 'HEAD' }))).toBe('BAD_REQUEST');
    expect(await refusalOf(restore({ path: join(cwd, 'never-held'), commit: v1 }))).toBe('NOT_TRACKED');
    expect(readFileSync(path, 'utf8')).toBe('drifted by hand\n');

    const done = await restore({ path, commit: `${v2}^` });
    expect(done.mode).toBe('approved');
    expect(done.result.error).toBeNull();
    expect(readFileSync(path, 'utf8')).toBe('version 1\n');
    expect(done.result.restored).toMatchObject({ from: v1, outcome: 'written' });
    const [commit] = done.result.ledgerCommits!;
    expect(done.result.ledgerCommits).toHaveLength(1);
    expect(git(ledgerDir, 'show', `${commit}:${path.slice(1)}`)).toBe('version 1\n');
    expect(trailer(commit!, 'Execution-Id')).toBe(done.executionId);
    expect(trailer(commit!, 'Approved-By')).toBe(ADMIN_IDENTITY);
    expect(trailer(commit!, 'Restored-From')).toBe(v1);
    // What the file had drifted to was committed first, so the restore itself can be undone.
    const snapshot = done.result.restored!.snapshot!;
    expect(git(ledgerDir, 'show', `${snapshot}:${path.slice(1)}`)).toBe('drifted by hand\n');
    expect(git(ledgerDir, 'rev-parse', `${commit}^`).trim()).toBe(snapshot);

    const [mutation] = (await events('FILE_MUTATION')).filter(
      (e) => e.payload.executionId === done.executionId,
    );
    expect(mutation!.payload).toMatchObject({ commit, path, approver: ADMIN_IDENTITY });
    const [row] = await relay.db.sql<
      { kind: string; state: string; command_sha256: string; ledger_commits: string[] }[]
    >`SELECT kind, state, command_sha256, ledger_commits FROM executions WHERE id = ${done.executionId}`;
    expect(row).toMatchObject({
      kind: 'restore',
      state: 'finished',
      command_sha256: sha256(restoreFileCommand(path, `${v2}^`)),
      ledger_commits: [commit],
    });
    expect(JSON.stringify(done)).not.toContain('version 1');
    git(ledgerDir, 'fsck', '--strict');
  });

  it('refuses a restore token for another version and a protected path, restoring nothing', async () => {
    const { path, v1, v2 } = await twoVersions('pinned.conf');
    const id = randomUUID();
    const approvedFor = await token(restoreFileCommand(path, v2), id);
    expect(await refusalOf(rawRestore({ path, commit: v1, approval: approvedFor }, id))).toBe(
      'APPROVAL_REJECTED',
    );
    expect(readFileSync(path, 'utf8')).toBe('version 2\n');
    expect((await events('DENIAL')).some((d) => String(d.payload.reason).includes('WRONG_COMMAND'))).toBe(
      true,
    );

    const victim = join(stateDir, 'operator.json');
    const before = readFileSync(victim);
    for (const target of [victim, '/etc/shadow', join(cwd, '..', 'state', 'operator.json')])
      expect(await refusalOf(restore({ path: target, commit: v1 })), target).toBe('PATH_REFUSED');
    expect(readFileSync(victim).equals(before)).toBe(true);
  });

  it('dropops-appliance operator restore puts a file back and explains refusals', async () => {
    const { path, v1 } = await twoVersions('cli-restore.conf');
    const cli = bin('dropops-appliance');
    const args = ['operator', 'restore', operator.id, path, '--to', v1, '--data-dir', relay.dataDir];
    const refused = await run(cli, args);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('APPROVAL_REQUIRED');
    expect(readFileSync(path, 'utf8')).toBe('version 2\n');
    const done = await run(cli, [...args, '--approve']);
    expect(done.code, done.stderr).toBe(0);
    expect(done.stderr).toContain(`restored ${path}`);
    expect(readFileSync(path, 'utf8')).toBe('version 1\n');
  }, 180_000);

  it('dropops-appliance operator write sends a local file and explains refusals', async () => {
    const cli = bin('dropops-appliance');
    const help = await run(cli, ['operator', 'write', '--help']);
    expect(help.stdout + help.stderr).toContain('--from LOCALFILE');
    const local = join(work.path, 'local.conf');
    writeFileSync(local, 'from the admin\n');
    const target = join(cwd, 'cli.conf');
    const args = ['operator', 'write', operator.id, target, '--from', local, '--data-dir', relay.dataDir];

    const done = await run(cli, [...args, '--approve', '--create']);
    expect(done.code, done.stderr).toBe(0);
    expect(done.stderr).toContain(`sha256 ${sha256('from the admin\n')}`);
    expect(readFileSync(target, 'utf8')).toBe('from the admin\n');
    const missing = await run(cli, [
      ...args.slice(0, 4),
      '--from',
      join(work.path, 'nope'),
      '--data-dir',
      relay.dataDir,
    ]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('cannot read');
  }, 180_000);
});
