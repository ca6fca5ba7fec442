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
