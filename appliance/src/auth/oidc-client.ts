import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import type { Logger } from 'pino';
import { RelayError } from '../errors.ts';

export interface OidcClientSettings {
  issuer: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  postLogoutRedirectUri: string;
  scopes: string;
  /**
   * Sent as `max_age`: a sign-in after the console session went idle must authenticate again at the provider,
   * not ride on the provider's own longer session.
   */
  maxAgeSeconds: number;
  fetch: oidc.CustomFetch;
}

/** What a sign-in must present again at the callback; kept server-side, never in the browser. */
export interface SignInChecks {
  state: string;
  nonce: string;
  codeVerifier: string;
}

export interface SignInResult {
  /** The verified ID token's claims first, then the access token's when it is a JWT from the same issuer. */
  claims: [Record<string, unknown>, ...Record<string, unknown>[]];
  idToken: string | undefined;
}

const DISCOVERY_TIMEOUT_S = 10;

/**
 * The relay as an OIDC relying party (openid-client): authorization code flow with PKCE (S256), state and
 * nonce, confidential client (client_secret_basic). Discovery runs at the first sign-in and again after a
 * failure, so the relay starts even while the identity provider is still coming up.
 */
export class OidcClient {
  private configuration: Promise<oidc.Configuration> | undefined;

  constructor(
    private readonly settings: OidcClientSettings,
    private readonly log: Logger,
  ) {}

  get issuer(): string {
    return this.settings.issuer;
  }

  private discover(): Promise<oidc.Configuration> {
    this.configuration ??= oidc
      .discovery(
        new URL(this.settings.issuer),
        this.settings.clientId,
        undefined,
        oidc.ClientSecretBasic(this.settings.clientSecret),
        { [oidc.customFetch]: this.settings.fetch, timeout: DISCOVERY_TIMEOUT_S },
      )
      .catch((err: unknown) => {
        this.configuration = undefined;
        this.log.warn(
          { code: 'OIDC_DISCOVERY_FAILED', issuer: this.settings.issuer, err },
          'OIDC discovery failed',
        );
        throw new RelayError(
          'SIGN_IN_FAILED',
          `the identity provider at ${this.settings.issuer} could not be reached or described itself wrongly (${describe(err)}); check DROPOPS_OIDC_ISSUER and try again.`,
        );
      });
    return this.configuration;
  }

  async authorizationUrl(): Promise<{ url: URL; checks: SignInChecks }> {
    const config = await this.discover();
    const checks = {
      state: oidc.randomState(),
      nonce: oidc.randomNonce(),
      codeVerifier: oidc.randomPKCECodeVerifier(),
    };
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: this.settings.redirectUri,
      scope: this.settings.scopes,
      response_type: 'code',
      state: checks.state,
      nonce: checks.nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(checks.codeVerifier),
      code_challenge_method: 'S256',
      max_age: String(this.settings.maxAgeSeconds),
    });
    return { url, checks };
  }

  /** Redeems the code from the callback's query string; throws SIGN_IN_FAILED with the provider's reason. */
  async redeem(callbackQuery: string, checks: SignInChecks): Promise<SignInResult> {
    const config = await this.discover();
    const currentUrl = new URL(this.settings.redirectUri);
    currentUrl.search = callbackQuery;
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      tokens = await oidc.authorizationCodeGrant(config, currentUrl, {
        pkceCodeVerifier: checks.codeVerifier,
        expectedState: checks.state,
        expectedNonce: checks.nonce,
        maxAge: this.settings.maxAgeSeconds,
        idTokenExpected: true,
      });
    } catch (err) {
      this.log.warn(
        { code: 'SIGN_IN_FAILED', issuer: this.settings.issuer, err },
        'the code exchange failed',
      );
      throw new RelayError(
        'SIGN_IN_FAILED',
        `the identity provider refused the sign-in (${describe(err)}); start again at /auth/login.`,
      );
    }
    const idClaims = tokens.claims() as Record<string, unknown>;
    return { claims: [idClaims, ...this.accessTokenClaims(tokens.access_token)], idToken: tokens.id_token };
  }

  /**
   * Keycloak's access token is a JWT carrying `realm_access`. It came straight from the token endpoint over
   * verified TLS in exchange for our code and secret, so its claims are the provider's (OIDC Core 3.1.3.7);
   * one from another issuer, or an opaque token, adds nothing.
   */
  private accessTokenClaims(accessToken: string): Record<string, unknown>[] {
    try {
      const claims = decodeJwt(accessToken) as Record<string, unknown>;
      return claims.iss === this.settings.issuer ? [claims] : [];
    } catch {
      return [];
    }
  }

  /** Where the browser goes to end its session at the provider, and comes back to the console from. */
  async endSessionUrl(idToken: string | undefined): Promise<string> {
    const config = await this.discover();
    if (!config.serverMetadata().end_session_endpoint) return this.settings.postLogoutRedirectUri;
    return oidc
      .buildEndSessionUrl(config, {
        post_logout_redirect_uri: this.settings.postLogoutRedirectUri,
        client_id: this.settings.clientId,
        ...(idToken ? { id_token_hint: idToken } : {}),
      })
      .toString();
  }
}

function describe(err: unknown): string {
  const e = err as { error?: string; error_description?: string; code?: string; message?: string };
  if (e.error) return e.error_description ? `${e.error}: ${e.error_description}` : e.error;
  return e.code ?? e.message ?? 'unknown error';
}
