import { ExitCode, required, runProgram, type Program, type Values } from '@dropops/protocol/cli';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import pino from 'pino';
import { enroll } from './enroll.ts';
import { OperatorError } from './errors.ts';
import { runOperator } from './link/run.ts';
import { classify, defaultPolicy, loadPolicy, PolicyError, type Policy } from './policy/index.ts';
import { redactStream } from './redact/index.ts';

const dirOption = { dir: { type: 'string' as const } };
const stateDir = (values: Values) => (typeof values.dir === 'string' ? values.dir : '.dropops');

/** The host's own policy file, which only its user can change; the default policy without one. */
function policyFor(values: Values): Policy {
  if (typeof values.policy === 'string') return loadPolicy(values.policy);
  const local = join(stateDir(values), 'policy.json');
  return existsSync(local) ? loadPolicy(local) : defaultPolicy;
}

const UNAVAILABLE = new Set(['RELAY_UNREACHABLE', 'NOT_ENROLLED']);

const program: Program = {
  name: 'dropops-operator',
  summary: 'the DropOps agent: dials out to the appliance, opens no port',
  exitCodeOf(err) {
    if (err instanceof PolicyError) return ExitCode.failed;
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
      usage: '[--dir DIR]',
      options: dirOption,
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
          const outcome = await runOperator({ dir: stateDir(values), log, signal: controller.signal });
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
          const result = classify(command, policy);
          const verdict = result.verdict === 'auto' ? 'auto' : 'approve';
          const reason =
            result.verdict === 'deny'
              ? `refused by policy even with approval: ${result.reason}`
              : result.reason;
          process.stdout.write(JSON.stringify({ command, verdict, reason }) + '\n');
        }
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
