import { classify, type Classification } from '../policy/classify.ts';
import { defaultPolicy, type Policy } from '../policy/policy.ts';
import { resolveProgram, trustedDirs } from './environment.ts';
import { ExecError } from './errors.ts';
import { Unplannable, type ExpandContext } from './expand.ts';
import { checkGitArgs, gitIndex, hardenGit } from './git.ts';
import { planCommand, type Plan, type PlanNode } from './plan.ts';

/** Bash builtins that have no program file: without a shell they cannot run, so they need approval. */
const SHELL_BUILTINS = new Set(
  (
    'alias bg bind break builtin caller cd command compgen complete compopt continue declare dirs disown enable ' +
    'eval exec exit export fc fg getopts hash help history jobs let local logout mapfile popd pushd read ' +
    'readarray readonly return set shift shopt source suspend times trap type typeset ulimit umask unalias unset wait'
  ).split(' '),
);

function commands(node: PlanNode): Extract<PlanNode, { kind: 'command' }>[] {
  switch (node.kind) {
    case 'command':
      return [node];
    case 'group':
      return node.body.flatMap(commands);
    case 'pipeline':
      return node.stages.flatMap(commands);
    case 'and':
    case 'or':
      return [...commands(node.left), ...commands(node.right)];
    case 'not':
      return commands(node.node);
  }
}

/** A construct of the plan that still needs a shell: a builtin without a program file, a risky git option. */
function unrunnable(plan: Plan): string | null {
  for (const { argv } of commands(plan.root)) {
    const name = argv[0]!;
    if (SHELL_BUILTINS.has(name) && resolveProgram(name) === null) return `the shell builtin "${name}"`;
    const at = gitIndex(argv);
    try {
      if (at !== null) checkGitArgs(argv, at);
    } catch (err) {
      if (err instanceof Unplannable) return err.construct;
      throw err;
    }
  }
  return null;
}

export interface ExecutionJudgement {
  classification: Classification;
  /** Set when the command may run automatically: exactly what will run. */
  plan?: Plan;
}

/**
 * The classifier's verdict, narrowed by what the executor can run exactly: an `auto` command the plan cannot
 * reproduce without a shell becomes `approve`, with a reason naming the construct. The verdict the link
 * should act on.
 */
export function classifyForExecution(
  command: string,
  options: ExpandContext & { policy?: Policy },
): ExecutionJudgement {
  const classification = classify(command, options.policy ?? defaultPolicy);
  if (classification.verdict !== 'auto') return { classification };
  const planned = planCommand(command, classification, options);
  if (planned.kind === 'refusal') return { classification: { verdict: 'approve', reason: planned.reason } };
  const construct = unrunnable(planned);
  if (construct)
    return {
      classification: {
        verdict: 'approve',
        reason: `the executor cannot run ${construct} without a shell`,
      },
    };
  return { classification, plan: planned };
}

/**
 * Resolves every program to its absolute path in the trusted directories and hardens each git call;
 * returns the tree that runs. PROGRAM_NOT_FOUND when a program is not there.
 */
export async function preparePlan(plan: Plan, ctx: ExpandContext): Promise<PlanNode> {
  const root = structuredClone(plan.root);
  for (const node of commands(root)) {
    const program = resolveProgram(node.argv[0]!);
    if (!program)
      throw new ExecError(
        'PROGRAM_NOT_FOUND',
        `program "${node.argv[0]}" was not found in the trusted directories ${trustedDirs().join(':')}; ` +
          'only root-owned programs there run automatically',
      );
    node.program = program;
    const at = gitIndex(node.argv);
    if (at === null) continue;
    const git = at === 0 ? program : resolveProgram('git');
    if (!git) throw new ExecError('PROGRAM_NOT_FOUND', 'git was not found in the trusted directories');
    try {
      node.argv = await hardenGit(node.argv, at, { git, cwd: ctx.cwd, env: { ...ctx.env } });
    } catch (err) {
      if (err instanceof Unplannable)
        throw new ExecError('PLAN_REFUSED', `the executor cannot run ${err.construct} without a shell`);
      throw err;
    }
  }
  return root;
}
