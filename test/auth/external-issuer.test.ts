import { join } from 'node:path';
import { initCa } from '@dropops/pki';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SESSION_COOKIE } from '../../appliance/src/sessions/cookies.ts';
import { tempDir } from '../helpers.ts';
import { startTestAppliance, type TestAppliance } from '../support/appliance.ts';
import type { Browser } from '../support/browser.ts';
import { errorOf, logout, newBrowser, whoAmI } from '../support/sign-in-flow.ts';
import { CLIENT_ID, CLIENT_SECRET, KeycloakLike } from './keycloak-like.ts';

describe('console sign-in through an external, Keycloak-like issuer', () => {
  const dir = tempDir('dropops-external-idp-');
  const dataDir = join(dir.path, 'data');
  let realm: KeycloakLike;
  let relay: TestAppliance;
  const browsers: Browser[] = [];
  const browser = () => {
    const b = newBrowser(dataDir);
    browsers.push(b);
    return b;
  };

  beforeAll(async () => {
    // The realm's TLS certificate comes from the appliance's CA, as compose's pki-init issues Keycloak's.
    const ca = initCa(join(dataDir, 'pki'), { trustDomain: 'dropops.local' });
    realm = await KeycloakLike.listen(ca);
    relay = await startTestAppliance('pglite', {
      dataDir,
      oidcIssuer: realm.issuer,
      oidcClientId: CLIENT_ID,
      oidcClientSecret: CLIENT_SECRET,
      oidcOrgClaim: 'tenant',
      oidcScopes: 'openid profile roles',
    });
    await realm.configure(relay.url);
  });
  afterAll(async () => {
    await Promise.all(browsers.map((b) => b.close()));
    await relay?.stop();
    await realm?.close();
    dir.remove();
  });

  it('runs no provider of its own and prints no one-time password', async () => {
    expect(relay.signIn).toMatchObject({ mode: 'external', issuer: realm.issuer });
    expect(relay.signIn.firstAdminPassword).toBeUndefined();
    const page = await browser().go(`${relay.url}/oidc/.well-known/openid-configuration`);
    expect(page.status).toBe(400);
    expect(errorOf(page).code).toBe('BAD_REQUEST');
  });

  it('maps realm_access.roles from the access token and the organisation claim into the session', async () => {
    realm.user = { username: 'alice', roles: ['approver', 'some-other-app-role'], tenant: 'acme' };
    const b = browser();
    const { page, pages } = await b.follow(`${relay.url}/auth/login`);
    const authorize = new URL(pages[0]!.location!);
    expect(`${authorize.origin}${authorize.pathname}`).toBe(`${realm.issuer}/auth`);
    expect(authorize.searchParams.get('client_id')).toBe(CLIENT_ID);
    expect(authorize.searchParams.get('redirect_uri')).toBe(`${relay.url}/auth/callback`);
    expect(page.status, page.text).toBe(200);
    expect(b.cookie(SESSION_COOKIE)).toBeDefined();
    const me = await whoAmI(b, relay.url);
    expect(me.user.name).toBe('alice');
    expect(me.org).toBe('acme');
    expect(me.roles).toEqual(['approver']);
  });

  it('puts a user without an organisation claim into the default organisation', async () => {
    realm.user = { username: 'bob', roles: ['viewer', 'admin'] };
    const b = browser();
    await b.follow(`${relay.url}/auth/login`);
    const me = await whoAmI(b, relay.url);
    expect(me.org).toBe('default');
    expect(me.roles).toEqual(['admin', 'viewer']);
  });

  it('refuses a user who holds none of the DropOps roles', async () => {
    realm.user = { username: 'carol', roles: ['some-other-app-role'], tenant: 'acme' };
    const b = browser();
    const { page } = await b.follow(`${relay.url}/auth/login`);
    expect(page.status).toBe(403);
    expect(errorOf(page).code).toBe('FORBIDDEN');
    expect(errorOf(page).message).toContain('realm_access.roles');
    expect(b.cookie(SESSION_COOKIE)).toBeUndefined();
  });

  it('logs out at the relay and then at the realm', async () => {
    realm.user = { username: 'alice', roles: ['approver'], tenant: 'acme' };
    const b = browser();
    await b.follow(`${relay.url}/auth/login`);
    const { csrfToken } = await whoAmI(b, relay.url);
    const out = await logout(b, relay.url, csrfToken);
    expect(out.status).toBe(303);
    const endSession = new URL(out.location!);
    expect(`${endSession.origin}${endSession.pathname}`).toBe(`${realm.issuer}/session/end`);
    expect(endSession.searchParams.get('post_logout_redirect_uri')).toBe(`${relay.url}/`);
    expect((await b.go(`${relay.url}/api/session`)).status).toBe(401);
    // As with Keycloak's defaults, the roles were never in the ID token: they came from the access token.
    const idToken = decodeJwt(endSession.searchParams.get('id_token_hint')!);
    expect(idToken).toMatchObject({ iss: realm.issuer, tenant: 'acme' });
    expect(idToken.realm_access).toBeUndefined();
  });
});
