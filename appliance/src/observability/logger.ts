import pino, { type Logger } from 'pino';

/**
 * Field names whose values are secrets wherever they appear: credentials in headers, API and enrollment
 * keys, tokens, passwords, private keys, database and Redis URLs (they may hold a password), the query
 * parameters postgres.js attaches to errors and the raw body a JSON parser keeps on a parse error.
 */
const SECRET_KEYS = [
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'apiKey',
  'api_key',
  'enrollmentKey',
  'token',
  'adminToken',
  'metricsToken',
  'accessToken',
  'access_token',
  'refreshToken',
  'refresh_token',
  'idToken',
  'id_token',
  'approval',
  'password',
  'passwd',
  'secret',
  'clientSecret',
  'client_secret',
  'privateKey',
  'privateKeyPem',
  'keyPem',
  'databaseUrl',
  'redisUrl',
  'parameters',
  'body',
];

/** How deep below the top of a log line a secret field is still found (`req.headers.authorization` is 2). */
const DEPTH = 3;

const field = (key: string) => (/^[A-Za-z_$][\w$]*$/.test(key) ? key : `["${key}"]`);
const join = (prefix: string, key: string) => (key.startsWith('[') ? `${prefix}${key}` : `${prefix}.${key}`);

/** The pino `redact` paths: every secret key at the top and under up to DEPTH levels of wildcards. */
export const REDACT_PATHS = SECRET_KEYS.flatMap((key) =>
  Array.from({ length: DEPTH + 1 }, (_, depth) =>
    depth === 0 ? field(key) : join(Array(depth).fill('*').join('.'), field(key)),
  ),
);

export const CENSOR = '[REDACTED]';

/**
 * The appliance's logger, with secrets redacted. A logger passed in (tests capture lines) gets the same
 * redaction through a child, so what a test reads is what production writes.
 */
export function applianceLogger(level: string, given?: Logger): Logger {
  const redact = { paths: REDACT_PATHS, censor: CENSOR };
  if (given) return given.child({}, { redact });
  return pino({ level, base: { service: 'appliance' }, redact }, pino.destination(2));
}
