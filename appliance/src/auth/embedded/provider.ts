import Provider, { type Adapter, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { escapeHtml, page } from '../html.ts';
import type { LocalUsers } from './local-users.ts';
import type { ProviderSecrets } from './provider-secrets.ts';

export const EMBEDDED_PREFIX = '/oidc';
export const EMBEDDED_CLIENT_ID = 'dropops-console';

export interface EmbeddedProviderSettings {
  /** `<relay URL>/oidc`. */
  issuer: string;
  /** Signing key, cookie keys and client secret, the same on every replica and after a restart. */
  secrets: ProviderSecrets;
  /** Where grants, sessions and interactions are kept (the relay's database). */
  adapter: (model: string) => Adapter;
  redirectUri: string;
  postLogoutRedirectUri: string;
  users: LocalUsers;
  /** The provider's own sign-in session lasts as long as a console session may. */
  sessionSeconds: number;
}

export const interactionPath = (uid: string) => `${EMBEDDED_PREFIX}/interaction/${encodeURIComponent(uid)}`;

function html(ctx: KoaContextWithOIDC, title: string, body: string): void {
  ctx.type = 'html';
  ctx.body = page(title, body);
}

/**
 * The identity provider the appliance runs when no external issuer is configured: oidc-provider with one
 * confidential client (the relay itself), local accounts, and pages without script. What it keeps between
 * requests is in the database and its keys are in the data dir, so neither a restart nor another replica
 * breaks a sign-in that is half-way.
 */
export function createEmbeddedProvider(settings: EmbeddedProviderSettings): Provider {
  const configuration: Configuration = {
    clients: [
      {
        client_id: EMBEDDED_CLIENT_ID,
        client_secret: settings.secrets.clientSecret,
        client_name: 'DropOps console',
        redirect_uris: [settings.redirectUri],
        post_logout_redirect_uris: [settings.postLogoutRedirectUri],
        response_types: ['code'],
        grant_types: ['authorization_code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    adapter: settings.adapter,
    jwks: { keys: [settings.secrets.signingKey] },
    cookies: { keys: settings.secrets.cookieKeys },
    pkce: { required: () => true },
    responseTypes: ['code'],
    scopes: ['openid', 'profile'],
    // The same claim shapes Keycloak sends, so the relay reads both the same way.
    claims: { openid: ['sub', 'realm_access', 'org'], profile: ['preferred_username', 'name'] },
    conformIdTokenClaims: false,
    async findAccount(_ctx, sub) {
      const user = await settings.users.find(sub);
      if (!user) return undefined;
      return {
        accountId: user.id,
        claims: async () => ({
          sub: user.id,
          preferred_username: user.username,
          name: user.username,
          realm_access: { roles: user.roles },
          org: user.org,
        }),
      };
    },
    interactions: { url: (_ctx, interaction) => interactionPath(interaction.uid) },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx, form) {
          html(
            ctx,
            'Sign out',
            `${form}<p>Sign out of the DropOps appliance at ${escapeHtml(ctx.host)}?</p>
<p><button type="submit" form="op.logoutForm" name="logout" value="yes">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button></p>`,
          );
        },
        async postLogoutSuccessSource(ctx) {
          html(ctx, 'Signed out', '<p>You are signed out. <a href="/auth/login">Sign in again</a>.</p>');
        },
      },
    },
    async renderError(ctx, out) {
      html(
        ctx,
        'Sign-in problem',
        `<p>${escapeHtml(String(out.error_description ?? out.error))}</p><p><a href="/auth/login">Start again</a>.</p>`,
      );
    },
    ttl: {
      Interaction: 10 * 60,
      Session: settings.sessionSeconds,
      Grant: settings.sessionSeconds,
      AuthorizationCode: 60,
      AccessToken: 5 * 60,
      IdToken: 5 * 60,
    },
  };
  const provider = new Provider(settings.issuer, configuration);
  provider.proxy = false;
  return provider;
}
