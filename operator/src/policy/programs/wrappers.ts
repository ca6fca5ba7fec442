import { isNumber, kindAccepts, opts, type ArgKind, type OptionSpec } from '../spec.ts';
import type { WordInfo } from '../words.ts';

/** A program that runs another program given in its arguments. */
interface WrapperSpec {
  options: OptionSpec[];
  /** Positional words before the wrapped command (timeout's duration). */
  leading?: (w: WordInfo) => boolean;
  /** Accepts NAME=value words before the command (env). */
  assignments?: boolean;
  /** Appends untrusted words to the command it runs (xargs). */
  appends?: boolean;
  /** Command run when none is given. */
  defaultCommand?: string;
  /** Options that mean "nothing is run" and make the call a plain lookup. */
  lookup?: string[];
}

const bufferMode: ArgKind = (v) => /^(L|0|\d+[KMG]?B?)$/.test(v);

export const wrappers: Record<string, WrapperSpec> = {
  env: { options: opts('-i -0 --ignore-environment --null -u:T --unset:T'), assignments: true },
  timeout: {
    options: opts('-v -s:T -k:T --signal:T --kill-after:T --preserve-status --foreground --verbose'),
    leading: (w) => w.literal && isNumber(w.text),
  },
  nice: { options: opts('-n:N --adjustment:N') },
  ionice: { options: opts('-c:N -n:N -t --class:N --classdata:N --ignore') },
  xargs: {
    options: opts(
      '-0 -r -t -x -n:N -L:N -P:N -s:N -d:T -E:T -I:T --null --no-run-if-empty --verbose --exit --max-args:N --max-lines:N --max-procs:N --max-chars:N --delimiter:T',
    ),
    appends: true,
    defaultCommand: 'echo',
  },
  busybox: { options: [] },
  command: { options: opts('-v -V'), lookup: ['-v', '-V'] },
  stdbuf: {
    options: ['-i', '-o', '-e', '--input', '--output', '--error'].map((name) => ({ name, arg: bufferMode })),
  },
};

export interface Unwrapped {
  /** The wrapped command's words (empty when none). */
  command: WordInfo[];
  /** Why the wrapper call cannot be auto, naming the token. */
  reason?: string;
  appends: boolean;
  lookup: boolean;
}

/** Splits a wrapper call into its own options and the command it runs. */
export function unwrap(name: string, args: WordInfo[]): Unwrapped | null {
  const spec = Object.hasOwn(wrappers, name) ? wrappers[name] : undefined;
  if (!spec) return null;
  const byName = new Map(spec.options.map((o) => [o.name, o]));
  const out: Unwrapped = { command: [], appends: !!spec.appends, lookup: false };
  let i = 0;
  for (; i < args.length; i++) {
    const w = args[i]!;
    if (!w.literal) {
      out.reason ??= `non-literal word "${w.text}" in ${name} options`;
      break;
    }
    if (w.text === '--') {
      i++;
      break;
    }
    if (!w.text.startsWith('-') || w.text === '-') break;
    const eq = w.text.indexOf('=');
    const long = w.text.startsWith('--');
    const optName = long ? (eq > 0 ? w.text.slice(0, eq) : w.text) : w.text.slice(0, 2);
    const opt = byName.get(optName);
    if (!opt) {
      out.reason ??= `unknown option "${optName}" for ${name}`;
      continue;
    }
    if (spec.lookup?.includes(optName)) out.lookup = true;
    const attached = long ? eq > 0 : w.text.length > 2;
    if (opt.arg) {
      const value = attached ? { ...w, text: w.text.slice(long ? eq + 1 : 2) } : args[++i];
      if (!value) out.reason ??= `option "${optName}" of ${name} needs an argument`;
      else if (!kindAccepts(opt.arg, value))
        out.reason ??= `bad argument "${value.text}" for option "${optName}" of ${name}`;
    } else if (!opt.arg && attached && !long) out.reason ??= `unknown option cluster "${w.text}" for ${name}`;
  }
  while (spec.assignments && i < args.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(args[i]!.prefix)) {
    out.reason ??= `environment assignment "${args[i]!.text}" changes how the command runs`;
    i++;
  }
  if (spec.leading) {
    const w = args[i];
    if (w && spec.leading(w)) i++;
    else out.reason ??= `missing or bad argument for ${name}`;
  }
  out.command = args.slice(i);
  if (out.command.length === 0 && spec.defaultCommand)
    out.command = [
      {
        text: spec.defaultCommand,
        literal: true,
        prefix: spec.defaultCommand,
        multi: false,
        substitutions: [],
      },
    ];
  return out;
}
