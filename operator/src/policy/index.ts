export { classify, type Classification, type Verdict } from './classify.ts';
export {
  defaultPolicy,
  loadPolicy,
  narrowPolicy,
  PolicyError,
  type DenyRule,
  type Policy,
  type PolicyErrorCode,
} from './policy.ts';
export {
  checkWritable,
  protectedTargets,
  protectedWrite,
  type ProtectedRefusal,
  type ProtectOptions,
} from './protected.ts';
export { writeTargets, type TargetOptions, type WriteTargets } from './targets.ts';
