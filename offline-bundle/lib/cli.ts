import { parseArgs, type ParseArgsConfig } from 'node:util';
import { describeError, ExitCode, UsageError } from '@dropops/protocol/cli';
import { PkiError } from '@dropops/pki';
import { BundleError } from './errors.ts';

type Options = NonNullable<ParseArgsConfig['options']>;
export type BuilderValues = Record<string, string | boolean | string[] | undefined>;

/** A bundle builder's command line: one action, so no verbs; the same help and exit codes as the other CLIs. */
export interface BuilderCommand {
  name: string;
  summary: string;
  usage: string;
  /** One line per option, already aligned. */
  optionHelp: string[];
  options: Options;
  run(values: BuilderValues): Promise<void>;
}

const EXIT_CODES =
  'Exit codes: 0 built, 1 a build step failed, 2 bad command line, 3 something needed is missing.';

function help(command: BuilderCommand): string {
  return [
    `${command.name}: ${command.summary}`,
    '',
    `Usage: ${command.usage}`,
    '',
    'Options:',
    ...command.optionHelp.map((line) => `  ${line}`),
    '  --help              this text',
    '',
    EXIT_CODES,
  ].join('\n');
}

function exitCodeOf(err: unknown): number {
  if (err instanceof UsageError) return ExitCode.usage;
  if (err instanceof BundleError) {
    if (err.code === 'BAD_ARGUMENT') return ExitCode.usage;
    if (err.code === 'CA_MISSING' || err.code === 'SOURCE_MISSING') return ExitCode.unavailable;
    return ExitCode.failed;
  }
  if (err instanceof PkiError) return ExitCode.failed;
  return ExitCode.internal;
}

export async function runBuilder(command: BuilderCommand, argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(help(command) + '\n');
    return ExitCode.ok;
  }
  try {
    let values: BuilderValues;
    try {
      values = parseArgs({ args: argv, options: command.options, strict: true }).values as BuilderValues;
    } catch (err) {
      throw new UsageError(`${(err as Error).message}\n\n${help(command)}`);
    }
    await command.run(values);
    return ExitCode.ok;
  } catch (err) {
    process.stderr.write(`${command.name}: ${describeError(err)}\n`);
    return exitCodeOf(err);
  }
}

export const stringOption = (values: BuilderValues, flag: string): string | undefined =>
  typeof values[flag] === 'string' ? (values[flag] as string) : undefined;
