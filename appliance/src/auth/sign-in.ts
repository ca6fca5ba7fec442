import type { Middleware } from 'koa';
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import { ConfigError, type ApplianceConfig } from '../config.ts';
import type { Sql } from '../db/database.ts';
import { RelayError } from '../errors.ts';
import type { CleanupTasks } from '../jobs/cleanup.ts';
import { TokenBuckets } from '../security/rate-limit.ts';
import { SessionGuard } from '../sessions/guard.ts';
import { loadSessionKey, Sealer } from '../sessions/sealing.ts';
import { SessionStore } from '../sessions/store.ts';
import { databaseAdapter, pruneProviderStore } from './embedded/adapter.ts';
import { interactionRoutes } from './embedded/interactions.ts';
import { LocalUsers } from './embedded/local-users.ts';
import { mountProvider } from './embedded/mount.ts';
import { createEmbeddedProvider, EMBEDDED_CLIENT_ID, EMBEDDED_PREFIX } from './embedded/provider.ts';
import { loadProviderSecrets } from './embedded/provider-secrets.ts';
import { OidcClient } from './oidc-client.ts';
import { signInRoutes } from './routes.ts';
import { SignInFlows } from './sign-in-flows.ts';
import { trustingFetch } from './tls-fetch.ts';

/** How a person signs in to this appliance, for `npm start` to print. */
export interface SignInStatus {
  mode: 'embedded' | 'external';
  issuer: string;
  loginUrl: string;
  /** The first administrator's one-time password, while nobody has used it (embedded mode only). */
  firstAdminPassword?: string;
}

export interface SignIn {
  /**
   * Mount in this order, before the JSON body parser: the sign-in routes, then (embedded) the interaction
   * forms and the provider, which read their own bodies. Each passes on what it does not answer.
   */
  middleware: Middleware[];
  /** For later routes and the console's Socket.IO namespace. */
  guard: SessionGuard;
  sessions: SessionStore;
  /** Finishes the set-up once the relay listens; its URL gives the issuer, the redirect URI and the Origin. */
  start(url: string): Promise<SignInStatus>;
}

/** Failed password attempts per user name per minute at the embedded provider. */
const LOGIN_ATTEMPTS_PER_MINUTE = 10;

const external = (config: ApplianceConfig) => {
  if (!config.oidcIssuer) return undefined;
  if (!config.oidcClientId || !config.oidcClientSecret) {
    throw new ConfigError(
      'DROPOPS_OIDC_ISSUER is set, so DROPOPS_OIDC_CLIENT_ID and DROPOPS_OIDC_CLIENT_SECRET must be set too.',
    );
  }
  return { issuer: config.oidcIssuer, clientId: config.oidcClientId, clientSecret: config.oidcClientSecret };
};

/**
 * Console sign-in: OIDC against the configured issuer (Keycloak), or against the embedded oidc-provider
 * mounted at /oidc when none is configured. Either way the relay is the same relying party.
 */
export function createSignIn(
  config: ApplianceConfig,
  deps: { sql: Sql; rootCaPem: string; log: Logger; cleanup: CleanupTasks },
): SignIn {
  const issuerSettings = external(config);
  const sealer = new Sealer(loadSessionKey(config.dataDir));
  const sessions = new SessionStore(
    deps.sql,
    sealer,
    { idleSeconds: config.sessionIdleSeconds, absoluteSeconds: config.sessionAbsoluteSeconds },
    deps.log,
  );
  const guard = new SessionGuard(sessions, new TokenBuckets(config.rateLimitUserPerMinute));
  const users = new LocalUsers(deps.sql);
  const flows = new SignInFlows(deps.sql, sealer);
  deps.cleanup.register('console-sessions', () => sessions.prune());
  deps.cleanup.register('sign-in-flows', () => flows.prune());
  if (!issuerSettings) deps.cleanup.register('oidc-provider-store', () => pruneProviderStore(deps.sql));
  let client: OidcClient | undefined;
  let provider: Provider | undefined;

  // Router middleware typed for router contexts; it runs on any Koa context.
  const routes = signInRoutes({
    client: () => {
      if (!client)
        throw new RelayError('SIGN_IN_FAILED', 'the appliance is still starting; try again in a moment.');
      return client;
    },
    flows,
    sessions,
    guard,
    mapping: {
      rolesClaim: config.oidcRolesClaim,
      orgClaim: config.oidcOrgClaim,
      defaultOrg: config.defaultOrg,
    },
    log: deps.log,
  }).routes() as Middleware;
  const interactions = issuerSettings
    ? undefined
    : (interactionRoutes({
        provider: () => provider!,
        users,
        requireOrigin: (ctx) => guard.requireOrigin(ctx.req.headers),
        attempts: new TokenBuckets(LOGIN_ATTEMPTS_PER_MINUTE),
        log: deps.log,
      }).routes() as Middleware);
  const embedded = mountProvider(() => provider);

  const middleware = interactions ? [routes, interactions, embedded] : [routes];

  return {
    middleware,
    guard,
    sessions,
    async start(url) {
      guard.setOrigin(new URL(url).origin);
      const redirectUri = `${url}/auth/callback`;
      const postLogoutRedirectUri = `${url}/`;
      const common = {
        redirectUri,
        postLogoutRedirectUri,
        scopes: config.oidcScopes,
        maxAgeSeconds: config.sessionIdleSeconds,
        fetch: trustingFetch([deps.rootCaPem]),
      };
      if (issuerSettings) {
        client = new OidcClient({ ...issuerSettings, ...common }, deps.log);
        return { mode: 'external', issuer: issuerSettings.issuer, loginUrl: `${url}/auth/login` };
      }
      const issuer = `${url}${EMBEDDED_PREFIX}`;
      const secrets = await loadProviderSecrets(config.dataDir);
      provider = createEmbeddedProvider({
        issuer,
        secrets,
        adapter: databaseAdapter(deps.sql),
        redirectUri,
        postLogoutRedirectUri,
        users,
        sessionSeconds: config.sessionAbsoluteSeconds,
      });
      client = new OidcClient(
        { issuer, clientId: EMBEDDED_CLIENT_ID, clientSecret: secrets.clientSecret, ...common },
        deps.log,
      );
      const firstAdminPassword = await users.ensureFirstAdmin(config.defaultOrg);
      return { mode: 'embedded', issuer, loginUrl: `${url}/auth/login`, firstAdminPassword };
    },
  };
}

/** The lines `dropops-appliance start` prints so a person can reach the console and sign in. */
export function signInHelp(status: SignInStatus, rootCertPath: string): string[] {
  const lines = [`Sign in to the console at ${status.loginUrl}`];
  if (status.mode === 'external') {
    lines.push(`  through the identity provider ${status.issuer} (DropOps roles: admin, approver, viewer).`);
  } else if (status.firstAdminPassword) {
    lines.push(
      `  user: admin   one-time password: ${status.firstAdminPassword}`,
      '  (you choose your own password at the first sign-in; until then every start prints a new one-time password)',
    );
  } else {
    lines.push('  with your account at the built-in identity provider.');
  }
  lines.push(`  Your browser must trust the appliance's root CA: ${rootCertPath}`);
  return lines;
}
