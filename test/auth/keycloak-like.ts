import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { issueServerCertificate, type CertificateAuthority } from '@dropops/pki';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';

export const REALM_PATH = '/realms/dropops';
export const CLIENT_ID = 'dropops-relay';
export const CLIENT_SECRET = 'keycloak-like-client-secret-0123456789';
const RESOURCE = 'urn:dropops:relay';

export interface RealmUser {
  username: string;
  /** Realm roles: Keycloak's defaults beside whatever DropOps roles the test gives. */
  roles: string[];
  tenant?: string;
}

/**
 * A second, standalone oidc-provider on loopback, set up the way Keycloak serves a realm: issuer
 * `https://127.0.0.1:<port>/realms/dropops`, a confidential client with client_secret_basic and PKCE, the
 * realm roles only in the access token (a JWT) as `realm_access.roles`, and nothing DropOps-specific in the
 * ID token but an organisation claim. The user who signs in is whoever the test put in `user`.
 */
export class KeycloakLike {
  user: RealmUser = { username: 'alice', roles: [] };
  private provider: Provider | undefined;
  private constructor(
    private readonly server: Server,
    readonly issuer: string,
  ) {}

  /** Listens first (the relay needs the issuer URL), then `configure` once the relay's URL is known. */
  static async listen(ca: CertificateAuthority): Promise<KeycloakLike> {
    const cert = issueServerCertificate(ca, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    let handle: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.writeHead(503).end();
    const server = createServer({ key: cert.privateKeyPem, cert: cert.chainPem }, (req, res) =>
      handle(req, res),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const realm = new KeycloakLike(server, `https://127.0.0.1:${port}${REALM_PATH}`);
    handle = (req, res) => realm.handle(req, res);
    return realm;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    if (!this.provider || !req.url?.startsWith(REALM_PATH)) {
      res.writeHead(404).end();
      return;
    }
    const interaction = /^\/realms\/dropops\/interaction\/([^/?]+)/.exec(req.url);
    if (interaction) {
      void this.signInCurrentUser(req, res);
      return;
    }
    (req as IncomingMessage & { originalUrl?: string }).originalUrl = req.url;
    req.url = req.url.slice(REALM_PATH.length) || '/';
    void this.provider.callback()(req, res);
  }

  /** Keycloak's login page, reduced to "the user is already signed in at the IdP". */
  private async signInCurrentUser(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const provider = this.provider!;
    const accountId = this.user.username;
    const grant = new provider.Grant({ accountId, clientId: CLIENT_ID });
    grant.addOIDCScope('openid profile');
    grant.addResourceScope(RESOURCE, 'roles');
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId }, consent: { grantId: await grant.save() } },
      { mergeWithLastSubmission: false },
    );
  }

  async configure(relayUrl: string): Promise<void> {
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    const jwk = { ...(await exportJWK(privateKey)), kid: randomUUID(), alg: 'RS256', use: 'sig' };
    this.provider = new Provider(this.issuer, {
      clients: [
        {
          client_id: CLIENT_ID,
          client_secret: CLIENT_SECRET,
          redirect_uris: [`${relayUrl}/auth/callback`],
          post_logout_redirect_uris: [`${relayUrl}/`],
          response_types: ['code'],
          grant_types: ['authorization_code'],
          token_endpoint_auth_method: 'client_secret_basic',
        },
      ],
      jwks: { keys: [jwk as never] },
      cookies: { keys: ['keycloak-like-cookie-key'] },
      pkce: { required: () => true },
      scopes: ['openid', 'profile'],
      claims: { openid: ['sub', 'tenant'], profile: ['preferred_username'] },
      conformIdTokenClaims: false,
      findAccount: async (_ctx, sub) => ({
        accountId: sub,
        claims: async () => ({ sub, preferred_username: this.user.username, tenant: this.user.tenant }),
      }),
      // Realm roles ride in the access token, a JWT for the relay, as Keycloak's "roles" client scope does.
      extraTokenClaims: async () => ({
        realm_access: { roles: ['offline_access', 'uma_authorization', ...this.user.roles] },
      }),
      features: {
        devInteractions: { enabled: false },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => RESOURCE,
          useGrantedResource: () => true,
          getResourceServerInfo: () => ({
            scope: 'roles',
            audience: CLIENT_ID,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          }),
        },
      },
      interactions: { url: (_ctx, interaction) => `${REALM_PATH}/interaction/${interaction.uid}` },
    });
    this.provider.proxy = false;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
