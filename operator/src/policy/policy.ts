import { readFileSync, statSync } from 'node:fs';
import { z } from 'zod';
import { programs } from './programs/index.ts';

/** A denylist entry: a program-name glob, optionally only when one argument matches one of `anyArg`. */
export interface DenyRule {
  program: string;
  anyArg?: string[];
}

export interface Policy {
  mode: 'denylist' | 'allowlist';
  /** Allowlist mode: the only programs that may run at all. */
  allow: string[];
  deny: DenyRule[];
  /** Programs that may be classified auto (when their specification matches). */
  auto: string[];
  limits: { maxLength: number; maxDepth: number; maxCommands: number };
  /**
   * Paths no write may reach, even with approval (see protected.ts): absolute or `~/`-relative; each
   * protects itself and everything below it; `*`, `?` and `[...]` match within one path component.
   * The operator's own state directory is always protected on top of these.
   */
  protectedPaths: string[];
}

export type PolicyErrorCode =
  'UNREADABLE' | 'INSECURE_PERMISSIONS' | 'WRONG_OWNER' | 'INVALID' | 'INVALID_NARROWING';

export class PolicyError extends Error {
  constructor(
    readonly code: PolicyErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'PolicyError';
  }
}

export const defaultPolicy: Policy = Object.freeze({
  mode: 'denylist',
  allow: [],
  deny: [
    { program: 'sudo' },
    { program: 'su' },
    { program: 'doas' },
    { program: 'pkexec' },
    { program: 'mkfs*' },
    { program: 'shutdown' },
    { program: 'reboot' },
    { program: 'halt' },
    { program: 'poweroff' },
    { program: 'dd', anyArg: ['of=/dev/*'] },
    { program: 'init', anyArg: ['0', '6'] },
    { program: 'telinit', anyArg: ['0', '6'] },
    { program: 'systemctl', anyArg: ['poweroff', 'reboot', 'halt', 'kexec'] },
    { program: 'rm', anyArg: ['/', '/[*]', '--no-preserve-root'] },
  ],
  auto: Object.keys(programs),
  limits: { maxLength: 4096, maxDepth: 8, maxCommands: 64 },
  protectedPaths: [
    '/etc/shadow',
    '/etc/shadow-',
    '/etc/gshadow',
    '/etc/gshadow-',
    '/etc/passwd',
    '/etc/group',
    '/etc/sudoers',
    '/etc/sudoers.d',
    '/boot',
    '/proc/sys',
    '/proc/sysrq-trigger',
    '/sys',
    '/dev',
    '/root/.ssh',
    '~/.ssh/authorized_keys*',
  ],
}) as Policy;

const ruleSchema = z.object({ program: z.string().min(1), anyArg: z.array(z.string()).optional() }).strict();
const limitsSchema = z
  .object({
    maxLength: z.number().int().positive(),
    maxDepth: z.number().int().positive(),
    maxCommands: z.number().int().positive(),
  })
  .strict();
const protectedPathsSchema = z.array(
  z.string().regex(/^(\/|~\/)/, 'a protected path is absolute or starts with ~/'),
);
const policySchema = z
  .object({
    mode: z.enum(['denylist', 'allowlist']).default('denylist'),
    allow: z.array(z.string()).default([]),
    deny: z.array(ruleSchema).default(defaultPolicy.deny),
    auto: z.array(z.string()).default(defaultPolicy.auto),
    limits: limitsSchema.default(defaultPolicy.limits),
    protectedPaths: protectedPathsSchema.default(defaultPolicy.protectedPaths),
  })
  .strict();

/** Loads a policy file; refuses files others could have written. */
export function loadPolicy(path: string): Policy {
  let stat;
  let text: string;
  try {
    stat = statSync(path);
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new PolicyError('UNREADABLE', `cannot read policy file ${path}: ${(err as Error).message}`);
  }
  if ((stat.mode & 0o022) !== 0)
    throw new PolicyError(
      'INSECURE_PERMISSIONS',
      `policy file ${path} is writable by group or others; run chmod go-w`,
    );
  if (typeof process.getuid === 'function' && stat.uid !== process.getuid())
    throw new PolicyError('WRONG_OWNER', `policy file ${path} is owned by uid ${stat.uid}, not by this user`);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new PolicyError('INVALID', `policy file ${path} is not JSON: ${(err as Error).message}`);
  }
  const parsed = policySchema.safeParse(data);
  if (!parsed.success)
    throw new PolicyError('INVALID', `policy file ${path} is invalid: ${parsed.error.message}`);
  return parsed.data;
}

const narrowingSchema = z
  .object({
    deny: z.array(ruleSchema).optional(),
    allowlist: z.array(z.string()).optional(),
    removeAuto: z.array(z.string()).optional(),
    protectedPaths: protectedPathsSchema.optional(),
  })
  .strict();

/**
 * Applies the appliance's restrictions: extra deny rules, allowlist mode with a subset of what is
 * already allowed, programs removed from auto, extra protected paths. Nothing in it can widen the
 * local policy.
 */
export function narrowPolicy(local: Policy, fromAppliance: unknown): Policy {
  const parsed = narrowingSchema.safeParse(fromAppliance);
  if (!parsed.success)
    throw new PolicyError('INVALID_NARROWING', `appliance policy is invalid: ${parsed.error.message}`);
  const { deny = [], allowlist, removeAuto = [], protectedPaths = [] } = parsed.data;
  let mode = local.mode;
  let allow = [...local.allow];
  if (allowlist) {
    allow = local.mode === 'allowlist' ? allow.filter((p) => allowlist.includes(p)) : [...allowlist];
    mode = 'allowlist';
  }
  const removed = new Set(removeAuto);
  return {
    mode,
    allow,
    deny: [...local.deny, ...deny],
    auto: local.auto.filter((p) => !removed.has(p)),
    limits: { ...local.limits },
    protectedPaths: [...local.protectedPaths, ...protectedPaths],
  };
}
