// One runner for every DropOps command line: the same --help layout, exit codes and error lines everywhere.
import { parseArgs, type ParseArgsConfig } from 'node:util';

export const ExitCode = {
  ok: 0,
  /** The operation ran and the answer is no (a failed verification, a refused request). */
  failed: 1,
  /** The command line itself is wrong. */
  usage: 2,
  /** Something the command needs is not reachable (the appliance, a file). */
  unavailable: 3,
  internal: 70,
} as const;

export class UsageError extends Error {
  override name = 'UsageError';
}

type Options = NonNullable<ParseArgsConfig['options']>;
export type Values = Record<string, string | boolean | string[] | undefined>;

export interface Command {
  summary: string;
  /** Argument synopsis after the command name, e.g. `--dir DIR [--trust-domain NAME]`. */
  usage: string;
  options?: Options;
  details?: string;
  run(values: Values, positionals: string[]): Promise<number | void> | number | void;
}

export interface Program {
  name: string;
  summary: string;
  commands: Record<string, Command>;
  /** Maps a typed error to an exit code; errors it does not know are internal. */
  exitCodeOf(err: unknown): number | undefined;
}

function programHelp(program: Program): string {
  const width = Math.max(...Object.keys(program.commands).map((k) => k.length));
  const lines = Object.entries(program.commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return [
    `${program.name}: ${program.summary}`,
    '',
    `Usage: ${program.name} <command> [options]`,
    '',
    'Commands:',
    ...lines,
    '',
    `Run \`${program.name} <command> --help\` for a command's options.`,
    'Exit codes: 0 ok, 1 refused or failed, 2 bad command line, 3 something needed is unreachable, 70 internal error.',
  ].join('\n');
}

function commandHelp(program: Program, name: string, command: Command): string {
  const options = Object.entries(command.options ?? {}).map(
    ([flag, o]) => `  --${flag}${o.type === 'string' ? ' VALUE' : ''}${o.multiple ? ' (repeatable)' : ''}`,
  );
  return [
    `${program.name} ${name}: ${command.summary}`,
    '',
    `Usage: ${program.name} ${name} ${command.usage}`.trimEnd(),
    ...(command.details ? ['', command.details] : []),
    ...(options.length ? ['', 'Options:', ...options] : []),
  ].join('\n');
}

/** Describes an error for a person: typed errors by their code and message, anything else without a stack trace. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Z_]+$/.test(code)) return `${code}: ${err.message}`;
    if (err instanceof UsageError) return err.message;
    if (process.env.DROPOPS_DEBUG) return err.stack ?? err.message;
    return `internal error (${err.name}: ${err.message}); set DROPOPS_DEBUG=1 for the stack trace and report it.`;
  }
  return `internal error: ${String(err)}`;
}

/** A reader that goes away (`| head`) ends the output, as for any Unix tool: quietly, not with a stack trace. */
function endQuietlyOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(process.exitCode ?? ExitCode.ok);
  });
}

export async function runProgram(program: Program, argv: string[]): Promise<number> {
  endQuietlyOnClosedPipe(process.stdout);
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    process.stdout.write(programHelp(program) + '\n');
    return argv.length === 0 ? ExitCode.usage : ExitCode.ok;
  }
  // Commands may be two words ("operator create"): take the longest name the arguments start with.
  const name = Object.keys(program.commands)
    .filter((k) => k.split(' ').every((word, i) => argv[i] === word))
    .sort((a, b) => b.length - a.length)[0];
  if (!name) {
    process.stderr.write(`${program.name}: unknown command "${argv.join(' ')}"\n\n${programHelp(program)}\n`);
    return ExitCode.usage;
  }
  const command = program.commands[name]!;
  const rest = argv.slice(name.split(' ').length);
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(commandHelp(program, name, command) + '\n');
    return ExitCode.ok;
  }
  try {
    let parsed;
    try {
      parsed = parseArgs({
        args: rest,
        options: command.options ?? {},
        allowPositionals: true,
        strict: true,
      });
    } catch (err) {
      throw new UsageError(`${(err as Error).message}\n\n${commandHelp(program, name, command)}`);
    }
    return (await command.run(parsed.values as Values, parsed.positionals)) ?? ExitCode.ok;
  } catch (err) {
    process.stderr.write(`${program.name} ${name}: ${describeError(err)}\n`);
    if (err instanceof UsageError) return ExitCode.usage;
    return program.exitCodeOf(err) ?? ExitCode.internal;
  }
}

/** Reads a required string option or explains which one is missing. */
export function required(values: Values, flag: string): string {
  const value = values[flag];
  if (typeof value !== 'string' || value === '') throw new UsageError(`--${flag} is required`);
  return value;
}

export function list(values: Values, flag: string): string[] {
  const value = values[flag];
  const items = Array.isArray(value) ? value : typeof value === 'string' ? [value] : [];
  return items
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean);
}
