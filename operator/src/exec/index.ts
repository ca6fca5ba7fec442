/**
 * The executor: runs what the classifier judged, exactly. `execute()` is the one entry point;
 * `detectSandbox()` / `startupNotice()` say once at start-up what confines auto commands.
 */
export { ExecError, type ExecErrorCode } from './errors.ts';
export { execute, type ExecDeps, type ExecOutcome, type ExecRequest, type ExecResult } from './run.ts';
export { classifyForExecution, preparePlan, type ExecutionJudgement } from './prepare.ts';
export { planArgv, planCommand, type IoOp, type Plan, type PlanNode, type PlanRefusal } from './plan.ts';
export { resolveProgram, scrubbedEnv, SYSTEM_PATH, trustedDirs } from './environment.ts';
export { detectSandbox, noSandbox, startupNotice, type Sandbox, type SandboxKind } from './sandbox.ts';
export { MODEL_LIMIT } from './model-output.ts';
