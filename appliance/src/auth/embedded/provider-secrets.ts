import { randomUUID } from 'node:crypto';
import { existsSync, linkSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import { z } from 'zod';
import { ConfigError } from '../../config.ts';
import { randomSecret } from '../../security/secrets.ts';

export const providerSecretsPath = (dataDir: string) => join(dataDir, 'oidc-provider.json');

const base64url = z.string().regex(/^[A-Za-z0-9_-]+$/);

/** RS256, the algorithm both oidc-provider and openid-client expect for ID tokens unless told otherwise. */
const SigningKey = z.object({
  kty: z.literal('RSA'),
  alg: z.literal('RS256'),
  use: z.literal('sig'),
  kid: z.string().min(1),
  n: base64url,
  e: base64url,
  d: base64url,
  p: base64url,
  q: base64url,
  dp: base64url,
  dq: base64url,
  qi: base64url,
});

const ProviderSecrets = z.object({
  /** Signs the ID tokens; its public half is at /oidc/jwks. */
  signingKey: SigningKey,
  /** Sign the provider's cookies (interaction, session); the first signs, all verify. */
  cookieKeys: z.array(z.string().min(32)).min(1),
  /** The relay's client secret at its own provider: every replica must present and accept the same one. */
  clientSecret: z.string().min(32),
});
export type ProviderSecrets = z.infer<typeof ProviderSecrets>;

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

async function generate(): Promise<ProviderSecrets> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true, modulusLength: 2048 });
  const signingKey = SigningKey.parse({
    ...(await exportJWK(privateKey)),
    alg: 'RS256',
    use: 'sig',
    kid: randomUUID(),
  });
  return { signingKey, cookieKeys: [randomSecret()], clientSecret: randomSecret() };
}

async function create(path: string): Promise<void> {
  const draft = `${path}.${randomUUID()}.tmp`;
  try {
    writeFileSync(draft, JSON.stringify(await generate(), null, 2) + '\n', { mode: 0o600, flag: 'wx' });
    // link() creates the name only if it is free, and only with the whole file: a replica starting at the same
    // moment reads either nothing or a complete file, never half of one.
    linkSync(draft, path);
  } catch (err) {
    // Another replica made it first: every replica uses that one.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    rmSync(draft, { force: true });
  }
}

/**
 * The embedded provider's signing key, cookie keys and client secret: made on first start, kept 0600 in the
 * data dir, read at every start after. Replicas share the file, as they share `session.key`, so a sign-in
 * begun on one finishes on another and survives a restart.
 */
export async function loadProviderSecrets(dataDir: string): Promise<ProviderSecrets> {
  const path = providerSecretsPath(dataDir);
  if (!existsSync(path)) await create(path);
  const parsed = ProviderSecrets.safeParse(parseJson(readFileSync(path, 'utf8')));
  if (!parsed.success) {
    throw new ConfigError(
      `${path} is not the embedded identity provider's key file; remove it and start again (sign-ins in progress end; console sessions stay).`,
    );
  }
  return parsed.data;
}
