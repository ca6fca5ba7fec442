// Refuses an appliance `.env` (or the environment compose built from it) with a missing, weak or malformed
// setting, naming each variable and how to fix it. scripts/generate-env.sh writes a file that passes.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ExitCode } from '@dropops/protocol/cli';

type Kind = 'secret' | 'host' | 'ips' | 'port' | 'email' | 'username' | 'trust-domain';

/** Every variable docker-compose.yml reads from `.env`. Optional ones may be absent or empty. */
export const ENV_SPEC: Record<string, { kind: Kind; optional?: boolean; what: string }> = {
  DROPOPS_PUBLIC_HOST: { kind: 'host', what: 'the DNS name operators and browsers use for this appliance' },
  DROPOPS_PUBLIC_IPS: { kind: 'ips', optional: true, what: 'extra IP addresses for the certificates' },
  DROPOPS_HTTPS_PORT: { kind: 'port', what: "the relay's published HTTPS and operator port" },
  KEYCLOAK_HTTPS_PORT: { kind: 'port', what: "Keycloak's published HTTPS port (browser login)" },
  DROPOPS_TRUST_DOMAIN: { kind: 'trust-domain', optional: true, what: "the CA's trust domain" },
  DROPOPS_FIRST_ADMIN_EMAIL: { kind: 'email', what: "the first DropOps admin's e-mail address" },
  KEYCLOAK_ADMIN_USER: { kind: 'username', what: "Keycloak's bootstrap (master realm) admin name" },
  POSTGRES_PASSWORD: { kind: 'secret', what: "PostgreSQL's superuser password" },
  DROPOPS_DB_PASSWORD: { kind: 'secret', what: "the relay's database password" },
  KEYCLOAK_DB_PASSWORD: { kind: 'secret', what: "Keycloak's database password" },
  REDIS_PASSWORD: { kind: 'secret', what: "Redis's password (requirepass)" },
  KEYCLOAK_ADMIN_PASSWORD: { kind: 'secret', what: "Keycloak's bootstrap admin password" },
  DROPOPS_OIDC_CLIENT_SECRET: { kind: 'secret', what: "the relay's OIDC client secret" },
  DROPOPS_FIRST_ADMIN_PASSWORD: { kind: 'secret', what: "the first DropOps admin's temporary password" },
};

export const SECRET_MIN_LENGTH = 24;
export const SECRET_MIN_BITS = 96;
const MIN_BITS_PER_CHAR = 3;
const MAX_MONOTONE_RUN = 7;
/** Defaults and words that turn up in copied examples; a secret containing one was typed, not generated. */
const WEAK_WORDS = [
  'changeme',
  'password',
  'passwd',
  'secret',
  'admin',
  'default',
  'example',
  'letmein',
  'qwerty',
  'keycloak',
  'postgres',
  'redis',
  'dropops',
];

export type EnvProblemCode = 'MISSING' | 'WEAK' | 'INVALID';
export interface EnvProblem {
  variable: string;
  code: EnvProblemCode;
  message: string;
}

export class EnvFileError extends Error {
  override name = 'EnvFileError';
  constructor(
    readonly code: 'ENV_FILE_UNREADABLE' | 'ENV_FILE_MALFORMED',
    message: string,
  ) {
    super(message);
  }
}

/** Parses the `KEY=value` lines compose reads: comments, blank lines, `export ` and one pair of quotes. */
export function parseEnvFile(text: string, path = '.env'): Record<string, string> {
  const values: Record<string, string> = {};
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!match) {
      throw new EnvFileError(
        'ENV_FILE_MALFORMED',
        `${path} line ${index + 1} is not KEY=value; fix it or write a new file with scripts/generate-env.sh --force.`,
      );
    }
    const value = match[2]!;
    const quoted = /^(['"])(.*)\1$/.exec(value);
    values[match[1]!] = quoted ? quoted[2]! : value;
  });
  return values;
}

const LEET: Record<string, string> = {
  '0': 'o',
  '3': 'e',
  '4': 'a',
  '5': 's',
  '7': 't',
  '@': 'a',
  $: 's',
  '!': 'i',
};
/** "P4ssw0rd" read as "password"; `one` is how to read "1". Hex secrets cannot spell any weak word this way. */
const unleet = (text: string, one: string) =>
  text.replace(/[013457@$!]/g, (ch) => (ch === '1' ? one : LEET[ch]!));

/** Shannon entropy of the value's own characters, in bits per character. */
function bitsPerChar(value: string): number {
  const counts = new Map<string, number>();
  for (const ch of value) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let bits = 0;
  for (const n of counts.values()) bits -= (n / value.length) * Math.log2(n / value.length);
  return bits;
}

/** The longest stretch in which each character repeats or steps by one from the last ("aaaa", "abcd", "4321"). */
function longestMonotoneRun(value: string): number {
  let longest = 1;
  let run = 1;
  let step = 0;
  for (let i = 1; i < value.length; i++) {
    const d = value.charCodeAt(i) - value.charCodeAt(i - 1);
    if (Math.abs(d) <= 1 && (run === 1 || d === step)) run++;
    else run = Math.abs(d) <= 1 ? 2 : 1;
    step = d;
    longest = Math.max(longest, run);
  }
  return longest;
}

/** Why a secret is weak, or undefined when it is strong enough. */
export function secretWeakness(value: string): string | undefined {
  const lower = value.toLowerCase();
  const readings = [lower, unleet(lower, 'i'), unleet(lower, 'l')];
  const word = WEAK_WORDS.find((w) => readings.some((r) => r.includes(w)));
  if (word) return `it contains the well-known word "${word}"`;
  if (value.length < SECRET_MIN_LENGTH)
    return `it is ${value.length} characters long; at least ${SECRET_MIN_LENGTH} are needed`;
  const perChar = bitsPerChar(value);
  const estimate = Math.floor(perChar * value.length);
  if (perChar < MIN_BITS_PER_CHAR || estimate < SECRET_MIN_BITS)
    return `it has too little entropy (about ${estimate} bits; at least ${SECRET_MIN_BITS} are needed)`;
  if (longestMonotoneRun(value) > MAX_MONOTONE_RUN)
    return 'it contains a long run of repeated or consecutive characters';
  return undefined;
}

const HOST =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function settingProblem(kind: Kind, value: string): string | undefined {
  switch (kind) {
    case 'secret':
      return secretWeakness(value);
    case 'host':
      if (isIP(value)) return 'it must be a DNS name (put IP addresses in DROPOPS_PUBLIC_IPS)';
      return HOST.test(value) ? undefined : `"${value}" is not a DNS name`;
    case 'ips': {
      const bad = value.split(',').find((ip) => ip.trim() !== '' && !isIP(ip.trim()));
      return bad === undefined ? undefined : `"${bad}" is not an IP address`;
    }
    case 'port': {
      const port = Number(value);
      return /^\d+$/.test(value) && port >= 1 && port <= 65535
        ? undefined
        : `"${value}" is not a port (1-65535)`;
    }
    case 'email':
      return /^[^\s@]+@[^\s@]+$/.test(value) ? undefined : `"${value}" is not an e-mail address`;
    case 'username':
      return /^[a-z0-9][a-z0-9._-]{2,63}$/.test(value)
        ? undefined
        : `"${value}" must be 3-64 lowercase letters, digits, dots, dashes or underscores`;
    case 'trust-domain':
      return /^[a-z0-9.-]{1,253}$/.test(value) ? undefined : `"${value}" must be a lowercase DNS-style name`;
  }
}

/** Every problem with the appliance settings, in ENV_SPEC order; an empty list means they may be used. */
export function checkEnv(values: Record<string, string | undefined>): EnvProblem[] {
  const problems: EnvProblem[] = [];
  for (const [variable, spec] of Object.entries(ENV_SPEC)) {
    const value = values[variable];
    if (value === undefined || value === '') {
      if (!spec.optional) problems.push({ variable, code: 'MISSING', message: `${spec.what} is not set` });
      continue;
    }
    const problem = settingProblem(spec.kind, value);
    if (problem) {
      problems.push({
        variable,
        code: spec.kind === 'secret' ? 'WEAK' : 'INVALID',
        message: `${spec.what} is refused: ${problem}`,
      });
    }
  }
  if (values.DROPOPS_HTTPS_PORT && values.DROPOPS_HTTPS_PORT === values.KEYCLOAK_HTTPS_PORT) {
    problems.push({
      variable: 'KEYCLOAK_HTTPS_PORT',
      code: 'INVALID',
      message: `it equals DROPOPS_HTTPS_PORT (${values.DROPOPS_HTTPS_PORT}); the two services need two ports`,
    });
  }
  return problems;
}

const HELP = `check-env: refuse an appliance .env with a missing, weak or malformed setting

Usage: scripts/check-env [--file FILE]         check a file (default ./.env)
       scripts/check-env --environment         check this process's environment (the compose step)

A secret must be at least ${SECRET_MIN_LENGTH} characters, carry about ${SECRET_MIN_BITS} bits or more by its own character
counts, hold no long run of repeated or consecutive characters, and contain no well-known word
(${WEAK_WORDS.join(', ')}).
Fix: scripts/generate-env.sh writes a file that passes (--force replaces an existing one).

Exit codes: 0 the settings may be used, 1 refused (each problem is named), 2 bad command line,
3 the file cannot be read.`;

export function main(argv: string[]): number {
  let values: { file?: string; environment?: boolean; help?: boolean };
  try {
    values = parseArgs({
      args: argv,
      options: {
        file: { type: 'string' },
        environment: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values;
  } catch (err) {
    process.stderr.write(`check-env: ${(err as Error).message}\n\n${HELP}\n`);
    return ExitCode.usage;
  }
  if (values.help) {
    process.stdout.write(HELP + '\n');
    return ExitCode.ok;
  }
  if (values.environment && values.file) {
    process.stderr.write('check-env: give --file or --environment, not both\n');
    return ExitCode.usage;
  }
  const source = values.environment ? 'the environment' : (values.file ?? '.env');
  let settings: Record<string, string | undefined>;
  try {
    settings = values.environment ? process.env : readEnvFile(source);
  } catch (err) {
    if (!(err instanceof EnvFileError)) throw err;
    process.stderr.write(`check-env: ${err.code}: ${err.message}\n`);
    return err.code === 'ENV_FILE_UNREADABLE' ? ExitCode.unavailable : ExitCode.failed;
  }
  const problems = checkEnv(settings);
  if (problems.length === 0) {
    process.stdout.write(
      `check-env: ${source} is usable (${Object.keys(ENV_SPEC).length} settings checked)\n`,
    );
    return ExitCode.ok;
  }
  for (const p of problems) process.stderr.write(`check-env: ${p.code} ${p.variable}: ${p.message}\n`);
  process.stderr.write(
    `check-env: ${source} refused (${problems.length} problem(s)). Run scripts/generate-env.sh to write strong values` +
      ' (--force replaces an existing .env; see docs/INSTALL.md before doing that to a running appliance).\n',
  );
  return ExitCode.failed;
}

function readEnvFile(path: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new EnvFileError(
      'ENV_FILE_UNREADABLE',
      `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); create it with scripts/generate-env.sh.`,
    );
  }
  return parseEnvFile(text, path);
}

// Run as a program (scripts/check-env), not when a test imports it.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = main(process.argv.slice(2));
}
