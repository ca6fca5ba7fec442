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
  operatorCertHours: z.coerce
    .number()
    .positive()
    .max(24 * 30)
    .default(24),
  operatorRequestTimeoutMs: z.coerce.number().int().positive().default(10_000),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
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
  operatorCertHours: 'DROPOPS_OPERATOR_CERT_HOURS',
  operatorRequestTimeoutMs: 'DROPOPS_OPERATOR_TIMEOUT_MS',
  logLevel: 'DROPOPS_LOG_LEVEL',
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
