import { resolve } from 'node:path';
import { z } from 'zod';

const csv = z.string().transform((s) =>
  s
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean),
);

/** Every setting, from flags first and then DROPOPS_* environment variables, checked before anything starts. */
export const ApplianceConfig = z.object({
  dataDir: z
    .string()
    .min(1)
    .default('.dropops-appliance')
    .transform((p) => resolve(p)),
  host: z.string().min(1).default('127.0.0.1'),
  port: z.coerce.number().int().min(0).max(65535).default(8443),
  /** Names and addresses written into the relay's certificate; operators must dial one of them. */
  dnsNames: csv.default(['localhost']),
  ipAddresses: csv.default(['127.0.0.1', '::1']),
  trustDomain: z
    .string()
    .regex(/^[a-z0-9.-]{1,253}$/)
    .default('dropops.local'),
  /** A PostgreSQL URL; without one the relay runs an embedded PGlite under the data dir. */
  databaseUrl: z.string().url().optional(),
  /** A Redis URL; with one, replicas share operators through Socket.IO's Redis adapter and jobs run on BullMQ, else all stays in-process. */
  redisUrl: z.string().url().optional(),
  /** How often the certificate-expiry sweep and the clean-up job (nonces, sessions) run. */
  sweepIntervalMs: z.coerce.number().int().min(100).default(60_000),
  /** How long a batch waits for an operator to reconnect (after a relay restart or take-over) before giving up on it. */
  reconnectGraceMs: z.coerce.number().int().min(0).default(60_000),
  /** How long a proposal waits for people before it expires undecided (checked by the clean-up sweep). */
  proposalTtlSeconds: z.coerce
    .number()
    .int()
    .min(1)
    .max(24 * 3600)
    .default(3600),
  operatorCertHours: z.coerce
    .number()
    .positive()
    .max(24 * 30)
    .default(24),
  operatorRequestTimeoutMs: z.coerce.number().int().positive().default(10_000),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** On SIGTERM/SIGINT, how long the relay waits for in-flight requests, runs and operators to move. */
  shutdownGraceMs: z.coerce
    .number()
    .int()
    .min(0)
    .max(10 * 60_000)
    .default(30_000),
  /** The Bearer token /metrics asks for; without one, a random token in `<data-dir>/metrics.token`. */
  metricsToken: z.string().min(32, 'use at least 32 characters (e.g. openssl rand -base64 32)').optional(),
  /** An external OIDC issuer (Keycloak's realm URL); without one the appliance runs its own provider under /oidc. */
  oidcIssuer: z.string().url().optional(),
  oidcClientId: z.string().min(1).optional(),
  oidcClientSecret: z.string().min(1).optional(),
  /** Where the DropOps roles sit in the ID or access token, as a dotted path (Keycloak: realm_access.roles). */
  oidcRolesClaim: z
    .string()
    .regex(/^[A-Za-z0-9_:-]+(\.[A-Za-z0-9_:-]+)*$/)
    .default('realm_access.roles'),
  /** The claim naming a user's organisation; users without it belong to `defaultOrg`. */
  oidcOrgClaim: z
    .string()
    .regex(/^[A-Za-z0-9_:-]+(\.[A-Za-z0-9_:-]+)*$/)
    .default('org'),
  oidcScopes: z
    .string()
    .regex(/^openid( [\x21\x23-\x5b\x5d-\x7e]+)*$/)
    .default('openid profile'),
  defaultOrg: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,62}$/)
    .default('default'),
  /** Console sessions end after this long without a request, and in any case this long after sign-in. */
  sessionIdleSeconds: z.coerce
    .number()
    .int()
    .min(1)
    .default(30 * 60),
  sessionAbsoluteSeconds: z.coerce
    .number()
    .int()
    .min(1)
    .default(12 * 60 * 60),
  /** Token buckets: requests per minute (and burst) per client address, and per signed-in user. */
  rateLimitIpPerMinute: z.coerce.number().int().min(1).default(600),
  rateLimitUserPerMinute: z.coerce.number().int().min(1).default(300),
  /** The language model (appliance/src/llm): `auto` uses Ollama when it answers at start, else none. */
  llm: z.enum(['auto', 'ollama', 'gemini', 'none']).default('auto'),
  ollamaUrl: z.string().url().default('http://127.0.0.1:11434'),
  ollamaModel: z.string().min(1).default('llama3.1'),
  geminiApiKey: z.string().min(1).optional(),
  geminiModel: z.string().min(1).default('gemini-2.5-flash'),
  /** The longest silence allowed from the model server, before its first chunk and between chunks. */
  llmIdleTimeoutMs: z.coerce.number().int().min(100).default(300_000),
});
export type ApplianceConfig = z.infer<typeof ApplianceConfig>;
export type ApplianceConfigInput = z.input<typeof ApplianceConfig>;

const ENV: Record<keyof ApplianceConfig, string> = {
  dataDir: 'DROPOPS_DATA_DIR',
  host: 'DROPOPS_HOST',
  port: 'DROPOPS_PORT',
  dnsNames: 'DROPOPS_DNS_NAMES',
  ipAddresses: 'DROPOPS_IP_ADDRESSES',
  trustDomain: 'DROPOPS_TRUST_DOMAIN',
  databaseUrl: 'DATABASE_URL',
  redisUrl: 'REDIS_URL',
  sweepIntervalMs: 'DROPOPS_SWEEP_INTERVAL_MS',
  reconnectGraceMs: 'DROPOPS_RECONNECT_GRACE_MS',
  proposalTtlSeconds: 'DROPOPS_PROPOSAL_TTL_SECONDS',
  operatorCertHours: 'DROPOPS_OPERATOR_CERT_HOURS',
  operatorRequestTimeoutMs: 'DROPOPS_OPERATOR_TIMEOUT_MS',
  logLevel: 'DROPOPS_LOG_LEVEL',
  shutdownGraceMs: 'DROPOPS_SHUTDOWN_GRACE_MS',
  metricsToken: 'DROPOPS_METRICS_TOKEN',
  oidcIssuer: 'DROPOPS_OIDC_ISSUER',
  oidcClientId: 'DROPOPS_OIDC_CLIENT_ID',
  oidcClientSecret: 'DROPOPS_OIDC_CLIENT_SECRET',
  oidcRolesClaim: 'DROPOPS_OIDC_ROLES_CLAIM',
  oidcOrgClaim: 'DROPOPS_OIDC_ORG_CLAIM',
  oidcScopes: 'DROPOPS_OIDC_SCOPES',
  defaultOrg: 'DROPOPS_DEFAULT_ORG',
  sessionIdleSeconds: 'DROPOPS_SESSION_IDLE_SECONDS',
  sessionAbsoluteSeconds: 'DROPOPS_SESSION_ABSOLUTE_SECONDS',
  rateLimitIpPerMinute: 'DROPOPS_RATE_LIMIT_IP_PER_MINUTE',
  rateLimitUserPerMinute: 'DROPOPS_RATE_LIMIT_USER_PER_MINUTE',
  llm: 'DROPOPS_LLM',
  ollamaUrl: 'DROPOPS_OLLAMA_URL',
  ollamaModel: 'DROPOPS_OLLAMA_MODEL',
  geminiApiKey: 'DROPOPS_GEMINI_API_KEY',
  geminiModel: 'DROPOPS_GEMINI_MODEL',
  llmIdleTimeoutMs: 'DROPOPS_LLM_IDLE_TIMEOUT_MS',
};

export class ConfigError extends Error {
  readonly code = 'BAD_CONFIG';
  override name = 'ConfigError';
}

/** Merges flags over environment over defaults and explains every invalid setting by its flag and variable. */
export function loadConfig(
  flags: Partial<Record<keyof ApplianceConfig, unknown>> = {},
  env = process.env,
): ApplianceConfig {
  const merged: Record<string, unknown> = {};
  for (const [key, variable] of Object.entries(ENV) as [keyof ApplianceConfig, string][]) {
    const value = flags[key] ?? env[variable];
    if (value !== undefined && value !== '') merged[key] = value;
  }
  const parsed = ApplianceConfig.safeParse(merged);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const key = String(issue.path[0]) as keyof ApplianceConfig;
      return `${key} (${ENV[key] ?? 'flag'}): ${issue.message}`;
    });
    throw new ConfigError(`invalid settings: ${problems.join('; ')}`);
  }
  return parsed.data;
}
