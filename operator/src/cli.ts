import { ExitCode, required, runProgram, UsageError, type Program, type Values } from '@dropops/protocol/cli';
import { createWriteStream, existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { finished } from 'node:stream/promises';
import pino from 'pino';
import { enroll } from './enroll.ts';
import { OperatorError } from './errors.ts';
import { LedgerError, openLedger, type LogEntry } from './ledger/index.ts';
import { runOperator } from './link/run.ts';
import { classify, defaultPolicy, loadPolicy, PolicyError, type Policy } from './policy/index.ts';
import { redactStream } from './redact/index.ts';
import { exportVault, VaultError, verifyVault } from './vault/index.ts';

const dirOption = { dir: { type: 'string' as const } };
const stateDir = (values: Values) => (typeof values.dir === 'string' ? values.dir : '.dropops');

function parseWitness(text: string): { seq: number; hash: string } {
  const match = /^(\d+):([0-9a-f]{64})$/.exec(text.trim());
  if (!match)
    throw new UsageError('--witness is SEQ:HASH, e.g. 42:<64 hex digits>, as the relay reports it.');
  return { seq: Number(match[1]), hash: match[2]! };
}

/** The host's own policy file, which only its user can change; the default policy without one. */
function policyFor(values: Values): Policy {
  if (typeof values.policy === 'string') return loadPolicy(values.policy);
  const local = join(stateDir(values), 'policy.json');
  return existsSync(local) ? loadPolicy(local) : defaultPolicy;
}

/** Who a local `ledger restore` is recorded as approved by: the host user running it. */
function localApprover(): string {
  try {
    return `local:${userInfo().username}`;
  } catch {
    return `local:uid-${process.getuid?.() ?? 'unknown'}`;
  }
}

function ledgerLine(entry: LogEntry): string {
  const who = [
    entry.executionId && `execution ${entry.executionId}`,
    entry.restoredFrom && `from ${entry.restoredFrom.slice(0, 12)}`,
    entry.approver && `approved by ${entry.approver}`,
  ].filter(Boolean);
  const head = `${entry.commit.slice(0, 12)}  ${entry.at}  ${(entry.action ?? 'other').padEnd(8)}  ${who.join(', ')}`;
  return [head.trimEnd(), ...entry.paths.map((p) => `    ${p}`)].join('\n') + '\n';
}

/** A file named on the command line: relative names are taken from the current directory. */
function onlyFile(positionals: string[], needed: boolean): string | undefined {
  if (positionals.length > 1) throw new UsageError(`Give one FILE, not ${positionals.length}.`);
  if (needed && positionals.length === 0) throw new UsageError('FILE is required.');
  return positionals[0] === undefined ? undefined : resolve(positionals[0]);
}

const UNAVAILABLE = new Set(['RELAY_UNREACHABLE', 'NOT_ENROLLED']);

const program: Program = {
  name: 'dropops-operator',
  summary: 'the DropOps agent: dials out to the appliance, opens no port',
  exitCodeOf(err) {
    if (err instanceof PolicyError || err instanceof VaultError) return ExitCode.failed;
    if (err instanceof LedgerError) return err.code === 'NO_LEDGER' ? ExitCode.unavailable : ExitCode.failed;
    if (err instanceof OperatorError)
      return UNAVAILABLE.has(err.code) ? ExitCode.unavailable : ExitCode.failed;
    return undefined;
  },
  commands: {
    enroll: {
      summary: 'make a key pair here and get a certificate from the appliance',
      usage: '--relay URL --api-key KEY --ca-pin PIN [--dir DIR] [--force]',
      details: 'DIR defaults to ./.dropops. The private key is made on this host and never leaves it.',
      options: {
        ...dirOption,
        relay: { type: 'string' },
        'api-key': { type: 'string' },
        'ca-pin': { type: 'string' },
        force: { type: 'boolean' },
      },
      async run(values) {
        const result = await enroll({
          relay: required(values, 'relay'),
          apiKey: required(values, 'api-key'),
          caPin: required(values, 'ca-pin'),
          dir: stateDir(values),
          force: values.force === true,
        });
        process.stdout.write(
          `enrolled as ${result.org}/${result.name} (${result.operatorId}); start with \`dropops-operator run\`.\n`,
        );
      },
    },
    run: {
      summary: 'connect to the appliance and serve it until Ctrl-C or a remote stop',
      usage: '[--dir DIR] [--relay URL[,URL...]]',
      details:
        'RELAY overrides the URL enrolled with; list several relay replicas (comma-separated) to try them in order when one is down.',
      options: { ...dirOption, relay: { type: 'string' } },
      async run(values) {
        const log = pino(
          { level: process.env.DROPOPS_LOG_LEVEL ?? 'info', base: { service: 'operator' } },
          pino.destination(2),
        );
        const controller = new AbortController();
        const interrupt = () => controller.abort();
        process.once('SIGINT', interrupt);
        process.once('SIGTERM', interrupt);
        try {
          const relays =
            typeof values.relay === 'string'
              ? values.relay
                  .split(',')
                  .map((url) => url.trim())
                  .filter(Boolean)
              : undefined;
          const outcome = await runOperator({
            dir: stateDir(values),
            log,
            signal: controller.signal,
            relays,
          });
          log.info({ outcome }, 'operator exiting');
        } finally {
          process.off('SIGINT', interrupt);
          process.off('SIGTERM', interrupt);
        }
      },
    },

    classify: {
      summary: 'judge shell commands, one per line on stdin: auto (provably read-only) or approve',
      usage: '[--policy FILE] [--dir DIR]',
      details: [
        'Writes one JSON object per input line: {"command", "verdict": "auto" | "approve", "reason"}.',
        'A command the policy refuses even with approval is reported as "approve" with a reason that says so.',
        'The policy is FILE, else DIR/policy.json when it exists (DIR defaults to ./.dropops), else the default.',
      ].join('\n'),
      options: { ...dirOption, policy: { type: 'string' } },
      async run(values) {
        const policy = policyFor(values);
        const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
        for await (const command of lines) {
          const result = classify(command, policy, { stateDir: stateDir(values) });
          const verdict = result.verdict === 'auto' ? 'auto' : 'approve';
          const reason =
            result.verdict === 'deny'
              ? `refused by policy even with approval: ${result.reason}`
              : result.reason;
          process.stdout.write(JSON.stringify({ command, verdict, reason }) + '\n');
        }
      },
    },
    'audit verify': {
      summary: "check the Audit Vault's hash chain; exit 1 naming the first bad event",
      usage: '[--dir DIR] [--witness SEQ:HASH]',
      details:
        'DIR defaults to ./.dropops (the vault is DIR/data/dropops.db). WITNESS is the last head the relay holds.',
      options: { ...dirOption, witness: { type: 'string' } },
      run(values) {
        const witness = typeof values.witness === 'string' ? parseWitness(values.witness) : undefined;
        const result = verifyVault(stateDir(values), { witness });
        if (result.ok) {
          process.stdout.write(
            `vault intact: ${result.events} events, head ${result.head.seq}:${result.head.hash}\n`,
          );
          return ExitCode.ok;
        }
        const bad = result.firstBad;
        process.stdout.write(
          `vault NOT intact: first bad event seq ${bad.seq}${bad.id ? ` (${bad.id})` : ''}: ${bad.problem}. ${result.message}\n`,
        );
        return ExitCode.failed;
      },
    },
    'audit export': {
      summary: 'write every vault event as JSON Lines to stdout (or --out FILE)',
      usage: '[--dir DIR] [--out FILE]',
      options: { ...dirOption, out: { type: 'string' } },
      async run(values) {
        const out =
          typeof values.out === 'string'
            ? createWriteStream(values.out, { flags: 'wx', mode: 0o600 })
            : process.stdout;
        const count = await exportVault(stateDir(values), out);
        if (out !== process.stdout) {
          out.end();
          await finished(out);
        }
        process.stderr.write(`exported ${count} events\n`);
      },
    },
    'ledger log': {
      summary: "list the Ledger Mirror's commits, newest first; with FILE, only those that changed it",
      usage: '[FILE] [--dir DIR] [--json]',
      details: [
        'DIR defaults to ./.dropops; the ledger is DIR/data/ledger, a bare git repository that stock git reads',
        '(files sit under their absolute path: /etc/hosts is etc/hosts). A relative FILE is taken from the',
        'current directory. --json writes one JSON object per commit instead.',
      ].join('\n'),
      options: { ...dirOption, json: { type: 'boolean' } },
      async run(values, positionals) {
        const file = onlyFile(positionals, false);
        const ledger = await openLedger(stateDir(values), { create: false });
        for (const entry of await ledger.log(file))
          process.stdout.write(values.json === true ? JSON.stringify(entry) + '\n' : ledgerLine(entry));
      },
    },
    'ledger restore': {
      summary: 'write FILE back as it was at COMMIT (removing it if it did not exist then) and record that',
      usage: 'FILE --to COMMIT [--dir DIR]',
      details: [
        'COMMIT is an id or prefix from `ledger log`, or HEAD, optionally followed by ^ or ~N: COMMIT^ is the',
        'version from before that commit. The file is replaced whole (temporary file, then rename) and keeps its',
        'owner and permissions. What it held, if the ledger lacked it, is committed first so the restore can be',
        'undone. Run here, the restore is recorded as approved by this host user; through the appliance it needs',
        'an approval.',
      ].join('\n'),
      options: { ...dirOption, to: { type: 'string' } },
      async run(values, positionals) {
        const file = onlyFile(positionals, true)!;
        const ledger = await openLedger(stateDir(values), { create: false });
        const done = await ledger.restore(file, required(values, 'to'), { approver: localApprover() });
        const from = done.from.slice(0, 12);
        if (done.snapshot)
          process.stdout.write(`saved what ${done.path} held first, as ${done.snapshot.slice(0, 12)}\n`);
        process.stdout.write(
          done.outcome === 'unchanged'
            ? `${done.path} already matches ${from}; nothing written\n`
            : done.outcome === 'removed'
              ? `removed ${done.path}: it did not exist at ${from} (ledger commit ${done.commit!.slice(0, 12)})\n`
              : `restored ${done.path} to its version at ${from} (ledger commit ${done.commit!.slice(0, 12)})\n`,
        );
      },
    },
    redact: {
      summary: 'copy stdin to stdout with every secret replaced by [REDACTED:<kind>]',
      usage: '',
      async run() {
        await redactStream(process.stdin, process.stdout);
      },
    },
  },
};

export const main = (argv: string[]) => runProgram(program, argv);
