/**
 * The operator's secret redactor: every secret becomes `[REDACTED:<kind>]` before a byte leaves the host.
 *
 * Policy choices worth knowing:
 * - Placeholders stay as they are: empty values, `****`, `xxx`, `<...>`, `${VAR}`, `$VAR`, `{{ ... }}`,
 *   `null`/`true`/`none`, type names (`string`), code references (`os.getenv(...)`), and markers from an
 *   earlier pass (which makes redaction idempotent). Weak real passwords such as `changeme` ARE redacted:
 *   they are in use somewhere.
 * - Values that are file paths (`/run/secrets/db`, `./token.txt`) are kept unless they look random.
 * - A key only makes its value a secret when a segment of it says so (`DB_PASSWORD`, `githubToken`,
 *   `x-api-key`); keys ending in `_url`, `_type`, `_file`, `_name`, `_id`, `_ttl`... describe a secret,
 *   they do not hold one. Weak keys (`auth`, `session`, `signature`, `cookie`) need a high-entropy value.
 * - Kubernetes Secrets: values under `data:` / `stringData:` are redacted when `kind: Secret` is in the
 *   same YAML document (either order). JSON manifests rely on the key-name rules only.
 * - Public material stays: certificates, `PUBLIC KEY` blocks, `ssh-rsa AAAA...`, Stripe `pk_` keys,
 *   git SHAs, digests, UUIDs, lockfile integrity hashes.
 */
export { findSecrets, redactText, type SecretSpan } from './redact.ts';
export { redactStream, type StreamOptions } from './stream.ts';
