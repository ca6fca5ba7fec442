import { readFileSync } from 'node:fs';
import { MAX_WRITE_BYTES, type HistoryEvent, type HostFacts, type OperatorSlot } from '@dropops/protocol';
import type { ExecOutcome } from './executions/service.ts';
import type { ExecutionRow } from './executions/store.ts';
import {
  ExitCode,
  required,
  runProgram,
  type Command,
  type Program,
  type Values,
} from '@dropops/protocol/cli';
import { caFiles, PkiError } from '@dropops/pki';
import { AdminClient, AdminClientError } from './admin-client.ts';
import { batchCommands } from './batches/cli-verbs.ts';
import { approvalCommands } from './approvals/cli-verbs.ts';
import { ConfigError, loadConfig } from './config.ts';
import { serveUntilSignalled } from './lifecycle/signals.ts';

const dataDirOption = { 'data-dir': { type: 'string' as const }, url: { type: 'string' as const } };
const jsonOption = { json: { type: 'boolean' as const } };

function client(values: Values): AdminClient {
  const config = loadConfig({ dataDir: values['data-dir'] });
  return new AdminClient(config.dataDir, values.url as string | undefined);
}

const print = (text: string): void => {
  process.stdout.write(text + '\n');
};
const note = (text: string): void => {
  process.stderr.write(text + '\n');
};
const operatorRef = (ref: string | undefined): string => {
  if (!ref) throw new AdminClientError('BAD_ARGUMENT', 'name the operator (id, name or org/name).');
  return encodeURIComponent(ref);
};

const hostPath = (path: string | undefined): string => {
  if (!path?.startsWith('/'))
    throw new AdminClientError('BAD_ARGUMENT', 'give the absolute path on the host, e.g. /etc/app.conf.');
  return path;
};

/** The model's view of the output on stdout; the metadata the relay kept on stderr. */
function showOutcome(outcome: ExecOutcome): number {
  if (outcome.modelOutput?.text) process.stdout.write(outcome.modelOutput.text);
  const r = outcome.result;
  note(
    `[${outcome.executionId}] ${outcome.mode}: ${outcome.reason}\n` +
      `exit ${r.exitCode ?? `signal ${r.signal}`} · stdout ${r.stdoutBytes} B · stderr ${r.stderrBytes} B · ` +
      `${r.durationMs.toFixed(1)} ms · sha256 ${r.sha256.slice(0, 16)}… · vault head ${r.chainHead.seq}:${r.chainHead.hash}` +
      (r.error ? `\n${r.error.code}: ${r.error.message}` : ''),
  );
  return r.error || r.exitCode !== 0 ? ExitCode.failed : ExitCode.ok;
}
/** A write or restore: what it did, the ledger commits it made, the vault head, and what went wrong, if anything. */
function showFileChange(
  outcome: ExecOutcome,
  values: Values,
  done: (result: ExecOutcome['result']) => string,
): number {
  const r = outcome.result;
  if (values.json) print(JSON.stringify(outcome, null, 2));
  else
    note(
      `[${outcome.executionId}] ${outcome.reason}\n${done(r)}` +
        `\nledger ${(r.ledgerCommits ?? []).join(' ') || '(unchanged)'} · vault head ${r.chainHead.seq}:${r.chainHead.hash}` +
        (r.error ? `\n${r.error.code}: ${r.error.message}` : ''),
    );
  return r.error ? ExitCode.failed : ExitCode.ok;
}
const enrollHint = (relay: { url: string; caPin: string }, apiKey: string) =>
  `On the server, as the user the operator should run as:\n  npx dropops-operator enroll --relay ${relay.url} --api-key ${apiKey} --ca-pin ${relay.caPin}\n  npx dropops-operator run`;

function slotCommand(
  summary: string,
  path: string,
  show: (result: never, values: Values, admin: AdminClient) => void,
): Command {
  return {
    summary,
    usage: 'OPERATOR [--data-dir DIR] [--url URL] [--json]',
    details: 'OPERATOR is an id, a name, or org/name.',
    options: { ...dataDirOption, ...jsonOption },
    async run(values, [ref]) {
      if (!ref) throw new AdminClientError('BAD_ARGUMENT', 'name the operator (id, name or org/name).');
      const admin = client(values);
      const result = await admin.call<never>('POST', `/api/operators/${encodeURIComponent(ref)}/${path}`);
      if (values.json) print(JSON.stringify(result, null, 2));
      else show(result, values, admin);
    },
  };
}

const program: Program = {
  name: 'dropops-appliance',
  summary: 'the DropOps relay and its admin verbs',
  exitCodeOf(err) {
    if (err instanceof ConfigError) return ExitCode.usage;
    if (err instanceof AdminClientError) {
      return ['APPLIANCE_NOT_FOUND', 'APPLIANCE_UNREACHABLE', 'OPERATOR_OFFLINE'].includes(err.code)
        ? ExitCode.unavailable
        : ExitCode.failed;
    }
    if (err instanceof PkiError) return ExitCode.failed;
    const unavailable = ['EADDRINUSE', 'REDIS_UNREACHABLE', 'DATABASE_UNREACHABLE', 'JOBS_UNAVAILABLE'];
    if (unavailable.includes(String((err as NodeJS.ErrnoException).code))) return ExitCode.unavailable;
    return undefined;
  },
  commands: {
    start: {
      summary: 'run the relay (creates the CA and server certificate on first start)',
      usage:
        '[--data-dir DIR] [--host ADDR] [--port N] [--dns NAMES] [--ip ADDRS] [--database-url URL] [--redis-url URL]',
      details: [
        'Defaults: data dir ./.dropops-appliance, 127.0.0.1:8443, embedded PGlite.',
        'Every flag has an environment twin: DROPOPS_DATA_DIR, DROPOPS_HOST, DROPOPS_PORT, DROPOPS_DNS_NAMES,',
        'DROPOPS_IP_ADDRESSES, DROPOPS_TRUST_DOMAIN, DATABASE_URL, DROPOPS_OPERATOR_CERT_HOURS, DROPOPS_LOG_LEVEL.',
        'SIGTERM/SIGINT drains first: /readyz turns 503, operators are told to reconnect elsewhere, and in-flight',
        'work gets DROPOPS_SHUTDOWN_GRACE_MS (default 30000) to finish. /metrics wants DROPOPS_METRICS_TOKEN or',
        'the token in <data-dir>/metrics.token.',
        'Console sign-in: DROPOPS_OIDC_ISSUER, DROPOPS_OIDC_CLIENT_ID, DROPOPS_OIDC_CLIENT_SECRET (Keycloak), else',
        'the built-in provider at /oidc; DROPOPS_OIDC_ROLES_CLAIM, DROPOPS_OIDC_ORG_CLAIM, DROPOPS_DEFAULT_ORG,',
        'DROPOPS_SESSION_IDLE_SECONDS, DROPOPS_SESSION_ABSOLUTE_SECONDS, DROPOPS_RATE_LIMIT_IP_PER_MINUTE,',
        'DROPOPS_RATE_LIMIT_USER_PER_MINUTE.',
        'REDIS_URL (--redis-url) joins this relay to the other replicas that share it; see docs/INSTALL.md.',
      ].join('\n'),
      options: {
        'data-dir': { type: 'string' },
        host: { type: 'string' },
        port: { type: 'string' },
        dns: { type: 'string' },
        ip: { type: 'string' },
        'database-url': { type: 'string' },
        'redis-url': { type: 'string' },
        'log-level': { type: 'string' },
      },
      async run(values) {
        const config = loadConfig({
          dataDir: values['data-dir'],
          host: values.host,
          port: values.port,
          dnsNames: values.dns,
          ipAddresses: values.ip,
          databaseUrl: values['database-url'],
          redisUrl: values['redis-url'],
          logLevel: values['log-level'],
        });
        // Loaded here, not at the top: the relay's modules (oidc-provider among them) are not needed by the
        // admin verbs, and oidc-provider prints a runtime warning on Node 20 when it loads.
        const [{ startAppliance }, { signInHelp }] = await Promise.all([
          import('./start.ts'),
          import('./auth/sign-in.ts'),
        ]);
        const appliance = await startAppliance(config);
        print(
          [
            `DropOps appliance running at ${appliance.url} (database: ${appliance.db.kind}, data: ${config.dataDir})`,
            `Console: ${appliance.url}/`,
            ...signInHelp(appliance.signIn, caFiles(appliance.ca.dir).rootCert),
            `CA pin: ${appliance.caPin}`,
            'Create an operator slot for a server in the console (Operators), or:',
            `  npx dropops-appliance operator create --org ORG --name NAME${values['data-dir'] ? ` --data-dir ${values['data-dir']}` : ''}`,
            'Stop with Ctrl-C (drains first; press it again to stop at once).',
          ].join('\n'),
        );
        await serveUntilSignalled(appliance, config.shutdownGraceMs, note);
      },
    },
    'operator create': {
      summary: 'create an operator slot and print its API key (shown once)',
      usage: '--org ORG --name NAME [--data-dir DIR] [--url URL] [--json]',
      options: { ...dataDirOption, ...jsonOption, org: { type: 'string' }, name: { type: 'string' } },
      async run(values) {
        const admin = client(values);
        const result = await admin.call<{ operator: OperatorSlot; apiKey: string }>(
          'POST',
          '/api/operators',
          {
            org: required(values, 'org'),
            name: required(values, 'name'),
          },
        );
        if (values.json) return print(JSON.stringify({ ...result, relay: admin.relay }, null, 2));
        print(`operator ${result.operator.org}/${result.operator.name} created (id ${result.operator.id})`);
        print(`API key (shown once, bound to the first host that enrolls with it): ${result.apiKey}`);
        print(enrollHint(admin.relay, result.apiKey));
      },
    },
    'operator list': {
      summary: 'list operator slots with their key state and connection',
      usage: '[--data-dir DIR] [--url URL] [--json]',
      options: { ...dataDirOption, ...jsonOption },
      async run(values) {
        const { operators } = await client(values).call<{ operators: OperatorSlot[] }>(
          'GET',
          '/api/operators',
        );
        if (values.json) return print(JSON.stringify(operators, null, 2));
        if (operators.length === 0)
          return print('no operators yet; create one with `dropops-appliance operator create`.');
        for (const o of operators) {
          print(
            `${`${o.org}/${o.name}`.padEnd(32)} ${o.id}  key ${o.keyState.padEnd(7)} ${o.connected ? 'connected' : 'offline  '}  host ${o.fingerprint ? o.fingerprint.slice(0, 12) : '(not enrolled)'}`,
          );
        }
      },
    },
    'operator refresh-key': slotCommand(
      'issue a new API key, revoke the old one and its certificates, and free the host binding',
      'refresh-key',
      (result: { operator: OperatorSlot; apiKey: string }, _values, admin) => {
        print(
          `new API key for ${result.operator.org}/${result.operator.name} (shown once): ${result.apiKey}`,
        );
        print(enrollHint(admin.relay, result.apiKey));
      },
    ),
    'operator revoke-key': slotCommand(
      "revoke the operator's key and certificates and disconnect it now",
      'revoke-key',
      (result: { operator: OperatorSlot; revokedSerials: string[] }) =>
        print(
          `key of ${result.operator.org}/${result.operator.name} revoked; ${result.revokedSerials.length} certificate(s) revoked; disconnected.`,
        ),
    ),
    'operator stop': slotCommand('ask a connected operator to exit', 'stop', (result: { stopping: string }) =>
      print(`asked operator ${result.stopping} to stop.`),
    ),
    'operator ping': slotCommand(
      "fetch the host's facts through the live link (relay → operator → relay)",
      'ping',
      (result: { operator: OperatorSlot; facts: HostFacts; roundTripMs: number }) => {
        const f = result.facts;
        print(
          `${result.operator.org}/${result.operator.name}: ${f.hostname} ${f.platform} ${f.release} ${f.arch}, ${f.cpus} CPU, ${Math.round(f.totalMemoryBytes / 2 ** 20)} MiB, up ${Math.round(f.uptimeSeconds)} s, operator ${f.operatorVersion} on Node ${f.nodeVersion}`,
        );
        print(`round trip ${result.roundTripMs.toFixed(2)} ms`);
      },
    ),
    'operator exec': {
      summary: 'run a command on an operator (read-only at once; anything else only with --approve)',
      usage: 'OPERATOR [--approve] [--timeout-ms N] [--json] -- COMMAND...',
      details: [
        'The operator judges the command itself. Without --approve, only what it finds provably read-only runs;',
        'with --approve you approve this exact command as a state change, signed with the appliance approval key.',
        "Prints the output as the model would see it (redacted and cut on the host) and the run's metadata.",
        'Exit code 1 when the command fails or is refused.',
      ].join('\n'),
      options: {
        ...dataDirOption,
        ...jsonOption,
        approve: { type: 'boolean' },
        'timeout-ms': { type: 'string' },
      },
      async run(values, [ref, ...words]) {
        const command = words.join(' ');
        if (!command) throw new AdminClientError('BAD_ARGUMENT', 'give the command after --, e.g. -- uptime');
        const timeout = values['timeout-ms'] === undefined ? undefined : Number(values['timeout-ms']);
        if (timeout !== undefined && !(Number.isInteger(timeout) && timeout > 0))
          throw new AdminClientError('BAD_ARGUMENT', '--timeout-ms is a whole number of milliseconds.');
        const outcome = await client(values).call<ExecOutcome>(
          'POST',
          `/api/operators/${operatorRef(ref)}/exec`,
          { command, approve: values.approve === true, timeoutMs: timeout },
          0,
        );
        if (values.json) {
          print(JSON.stringify(outcome, null, 2));
          return outcome.result.error || outcome.result.exitCode !== 0 ? ExitCode.failed : ExitCode.ok;
        }
        return showOutcome(outcome);
      },
    },
    'operator write': {
      summary: 'replace one file on an operator with a local file (write_file; runs only with --approve)',
      usage: 'OPERATOR PATH --from LOCALFILE [--approve] [--expect-sha256 HEX | --create] [--json]',
      details: [
        'PATH is the absolute path on the host; LOCALFILE is read here and sent whole (at most 128 KiB).',
        'With --approve you approve exactly these bytes at exactly that path; the operator checks the signed',
        'approval itself, refuses protected paths (its own .dropops/, /etc/shadow, ...) even then, writes the',
        'file atomically keeping its owner and mode, and records the old and new version in its Ledger Mirror.',
        '--expect-sha256 HEX writes only if the file still holds those bytes (sha256sum of what you reviewed);',
        '--create only if no file is there yet; with neither, whatever the file holds is replaced.',
        'Exit code 1 when the write is refused or fails.',
      ].join('\n'),
      options: {
        ...dataDirOption,
        ...jsonOption,
        from: { type: 'string' },
        approve: { type: 'boolean' },
        'expect-sha256': { type: 'string' },
        create: { type: 'boolean' },
      },
      async run(values, [ref, given]) {
        const path = hostPath(given);
        const from = required(values, 'from');
        const expected = values['expect-sha256'];
        if (expected !== undefined && values.create === true)
          throw new AdminClientError('BAD_ARGUMENT', '--expect-sha256 and --create exclude each other.');
        if (typeof expected === 'string' && !/^[0-9a-f]{64}$/.test(expected))
          throw new AdminClientError(
            'BAD_ARGUMENT',
            '--expect-sha256 is 64 lowercase hex digits (sha256sum).',
          );
        let content: Buffer;
        try {
          content = readFileSync(from);
        } catch (err) {
          throw new AdminClientError(
            'FILE_UNREADABLE',
            `cannot read ${from}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}.`,
          );
        }
        if (content.length > MAX_WRITE_BYTES)
          throw new AdminClientError(
            'BAD_ARGUMENT',
            `${from} is ${content.length} bytes; write_file carries at most ${MAX_WRITE_BYTES}.`,
          );
        const outcome = await client(values).call<ExecOutcome>(
          'POST',
          `/api/operators/${operatorRef(ref)}/write`,
          {
            path,
            content: content.toString('base64'),
            expectedSha256: values.create === true ? null : expected,
            approve: values.approve === true,
          },
          0,
        );
        return showFileChange(outcome, values, ({ written: w }) =>
          w
            ? `wrote ${w.bytes} B to ${path} · sha256 ${w.sha256} · ` +
              (w.previousSha256 ? `replaced sha256 ${w.previousSha256}` : 'new file')
            : `wrote ${path}`,
        );
      },
    },
    'operator restore': {
      summary:
        'put one file on an operator back to a version in its Ledger Mirror (runs only with --approve)',
      usage: 'OPERATOR PATH --to COMMIT [--approve] [--json]',
      details: [
        "PATH is the absolute path on the host; COMMIT is a full ledger commit id (from a run's ledger commits",
        'or the FILE_MUTATION events in `operator history`), optionally followed by ^ or ~N: COMMIT^ is the',
        'version before that commit. With --approve you approve restoring exactly that path to exactly that',
        'version; the operator checks the signed approval itself, refuses protected paths even then, commits',
        'what the file holds first (so the restore can be undone), and records the restore as its own commit.',
        'On the host itself, its user runs `dropops-operator ledger restore` instead, without the appliance.',
        'Exit code 1 when the restore is refused or fails.',
      ].join('\n'),
      options: { ...dataDirOption, ...jsonOption, to: { type: 'string' }, approve: { type: 'boolean' } },
      async run(values, [ref, given]) {
        const path = hostPath(given);
        const commit = required(values, 'to');
        const outcome = await client(values).call<ExecOutcome>(
          'POST',
          `/api/operators/${operatorRef(ref)}/restore`,
          { path, commit, approve: values.approve === true },
          0,
        );
        return showFileChange(
          outcome,
          values,
          ({ restored: done }) =>
            (done?.outcome === 'unchanged'
              ? `${path} already held its version at ${done.from}; nothing written`
              : `${done?.outcome === 'removed' ? 'removed' : 'restored'} ${path} (version at ${done?.from ?? commit})`) +
            (done?.snapshot ? ` · saved what it held first as ${done.snapshot}` : ''),
        );
      },
    },
    'operator history': {
      summary: "show a host's own record, fetched live from its Audit Vault (never stored by the relay)",
      usage: 'OPERATOR [--session ID] [--after SEQ] [--limit N] [--json]',
      options: {
        ...dataDirOption,
        ...jsonOption,
        session: { type: 'string' },
        after: { type: 'string' },
        limit: { type: 'string' },
      },
      async run(values, [ref]) {
        const history = await client(values).call<{
          events: HistoryEvent[];
          chainHead: { seq: number; hash: string };
        }>('POST', `/api/operators/${operatorRef(ref)}/history`, {
          sessionId: values.session,
          afterSeq: values.after === undefined ? undefined : Number(values.after),
          limit: values.limit === undefined ? undefined : Number(values.limit),
        });
        if (values.json) return print(JSON.stringify(history, null, 2));
        for (const e of history.events)
          print(`${String(e.seq).padStart(6)} ${e.at} ${e.type.padEnd(13)} ${JSON.stringify(e.payload)}`);
        note(`vault head ${history.chainHead.seq}:${history.chainHead.hash}`);
      },
    },
    'operator executions': {
      summary: 'list the runs the relay carried for an operator (metadata only)',
      usage: 'OPERATOR [--json]',
      options: { ...dataDirOption, ...jsonOption },
      async run(values, [ref]) {
        const { executions } = await client(values).call<{ executions: ExecutionRow[] }>(
          'GET',
          `/api/operators/${operatorRef(ref)}/executions`,
        );
        if (values.json) return print(JSON.stringify(executions, null, 2));
        for (const e of executions)
          print(
            `${e.id} ${String(e.created_at)} ${e.kind.padEnd(10)} ${e.state.padEnd(8)} ${e.mode ?? '-'} exit ${e.exit_code ?? '-'} ${e.error_code ?? ''}`,
          );
      },
    },
    'execution cancel': {
      summary: 'cancel a run in progress (the operator kills its process group)',
      usage: 'EXECUTION_ID',
      options: dataDirOption,
      async run(values, [id]) {
        if (!id) throw new AdminClientError('BAD_ARGUMENT', 'give the execution id to cancel.');
        await client(values).call('POST', `/api/executions/${encodeURIComponent(id)}/cancel`);
        print(`asked the operator to cancel ${id}.`);
      },
    },
    ...batchCommands(client, dataDirOption),
    ...approvalCommands(client, dataDirOption),
    'operator revoke-cert': {
      summary: 'revoke one operator certificate by serial and disconnect its holder',
      usage: 'SERIAL [--data-dir DIR] [--url URL]',
      options: dataDirOption,
      async run(values, [serial]) {
        if (!serial) throw new AdminClientError('BAD_ARGUMENT', 'name the certificate serial to revoke.');
        const result = await client(values).call<{ revoked: string }>(
          'POST',
          `/api/certificates/${encodeURIComponent(serial)}/revoke`,
        );
        print(`certificate ${result.revoked} revoked.`);
      },
    },
  },
};

export const main = (argv: string[]) => runProgram(program, argv);
