import { statSync } from 'node:fs';
import { CSRF_HEADER } from '@dropops/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BINDING_COOKIE, SESSION_COOKIE, SIGN_IN_COOKIE } from '../../appliance/src/sessions/cookies.ts';
import { sessionKeyPath } from '../../appliance/src/sessions/sealing.ts';
import { startTestAppliance, type TestAppliance } from '../support/appliance.ts';
import { backends } from '../support/services.ts';
import { formOf, type Browser } from '../support/browser.ts';
import {
  errorOf,
  followToCallback,
  logout,
  newBrowser,
  openLoginPage,
  originOf,
  signIn,
  submit,
  whoAmI,
} from '../support/sign-in-flow.ts';

const NEW_PASSWORD = 'correct horse battery staple';

describe.each(backends())('console sign-in through the embedded provider (%s)', (backend) => {
  let relay: TestAppliance;
  const browsers: Browser[] = [];
  const browser = (userAgent?: string) => {
    const b = newBrowser(relay.dataDir, userAgent);
    browsers.push(b);
    return b;
  };
  let oneTimePassword: string;

  beforeAll(async () => {
    relay = await startTestAppliance(backend);
    expect(relay.signIn.mode).toBe('embedded');
    expect(relay.signIn.issuer).toBe(`${relay.url}/oidc`);
    oneTimePassword = relay.signIn.firstAdminPassword!;
    expect(oneTimePassword).toMatch(/^[A-Za-z0-9_-]{20}$/);
  });
  afterAll(async () => {
    await Promise.all(browsers.map((b) => b.close()));
    await relay?.stop();
  });

  it('refuses a wrong password and stays on the sign-in page', async () => {
    const b = browser();
    const login = await openLoginPage(b, relay.url);
    const refused = await submit(b, login, { username: 'admin', password: 'not-the-password' });
    expect(refused.status).toBe(401);
    expect(refused.text).toContain('Wrong user name or password.');
    expect(refused.location).toBeUndefined();
    const unknown = await submit(b, login, { username: 'nobody', password: oneTimePassword });
    expect(unknown.status).toBe(401);
  });

  it('makes the first administrator choose a password before the sign-in completes', async () => {
    const b = browser();
    const login = await openLoginPage(b, relay.url);
    const change = await submit(b, login, { username: 'admin', password: oneTimePassword });
    expect(change.status).toBe(200);
    expect(change.text).toContain('Choose a new password');
    expect(change.location).toBeUndefined();
    // A weak choice is refused and asked again; nothing is redirected to the relay.
    const weak = await submit(b, change, {
      password: oneTimePassword,
      newPassword: 'short',
      confirm: 'short',
    });
    expect(weak.status).toBe(400);
    expect(weak.text).toContain('at least 12 characters');
    const mismatched = await submit(b, change, {
      password: oneTimePassword,
      newPassword: NEW_PASSWORD,
      confirm: `${NEW_PASSWORD}!`,
    });
    expect(mismatched.status).toBe(400);
    expect(mismatched.text).toContain('differ');

    const finished = await submit(b, change, {
      password: oneTimePassword,
      newPassword: NEW_PASSWORD,
      confirm: NEW_PASSWORD,
    });
    const { page } = await followToCallback(b, finished);
    expect(page.status, page.text).toBe(200);
    expect(page.headers.refresh).toBe('0; url=/');
    expect(b.cookie(SESSION_COOKIE)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(b.cookie(BINDING_COOKIE)).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const me = await whoAmI(b, relay.url);
    expect(me.user.name).toBe('admin');
    expect(me.org).toBe('default');
    expect(me.roles).toEqual(['admin']);
    expect(me.csrfToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Date.parse(me.expiresAt) - Date.now()).toBeGreaterThan(11 * 3600 * 1000);

    // The one-time password is spent.
    const again = browser();
    const login2 = await openLoginPage(again, relay.url);
    expect((await submit(again, login2, { username: 'admin', password: oneTimePassword })).status).toBe(401);
  });

  it('sets the session cookies HttpOnly, Secure, SameSite=Strict, Path=/, with the __Host- prefix', async () => {
    const { callbackResponse } = await signIn(browser(), relay.url, 'admin', NEW_PASSWORD);
    const setCookie = ([] as string[]).concat(callbackResponse.headers['set-cookie'] as string[]);
    for (const name of [SESSION_COOKIE, BINDING_COOKIE]) {
      expect(name.startsWith('__Host-')).toBe(true);
      const line = setCookie.find((l) => l.startsWith(`${name}=`))!;
      expect(line).toMatch(/; path=\/(;|$)/);
      expect(line).toMatch(/; secure/);
      expect(line).toMatch(/; samesite=strict/);
      expect(line).toMatch(/; httponly/);
      expect(line).not.toMatch(/domain=|max-age|expires/i);
    }
  });

  it('refuses a callback replayed after it was used', async () => {
    const b = browser();
    const { callback } = await signIn(b, relay.url, 'admin', NEW_PASSWORD);
    const replay = await b.go(callback);
    expect(replay.status).toBe(400);
    expect(errorOf(replay).code).toBe('SIGN_IN_FAILED');
    expect(errorOf(replay).message).toContain('already used');
    // The session made by the first use still works; the replay made none.
    expect((await whoAmI(b, relay.url)).user.name).toBe('admin');
  });

  it('refuses a state it never issued, and a flow finished in another browser', async () => {
    const b = browser();
    const unknown = await b.go(`${relay.url}/auth/callback?code=abc&state=${'x'.repeat(43)}`);
    expect(unknown.status).toBe(400);
    expect(errorOf(unknown).code).toBe('SIGN_IN_FAILED');

    // The victim's browser starts a sign-in; the attacker finishes it with the victim's code in theirs.
    const victim = browser();
    const login = await openLoginPage(victim, relay.url);
    const finished = await submit(victim, login, { username: 'admin', password: NEW_PASSWORD });
    // The victim's browser goes up to the redirect that carries the code, but not through it.
    let hop = await victim.go(finished.location!);
    while (new URL(hop.location!).pathname !== '/auth/callback') hop = await victim.go(hop.location!);
    const callback = hop.location!;
    const attacker = browser();
    const stolen = await attacker.go(callback);
    expect(stolen.status).toBe(400);
    expect(errorOf(stolen).code).toBe('SIGN_IN_FAILED');
    expect(errorOf(stolen).message).toContain('another browser');
    expect(attacker.cookie(SESSION_COOKIE)).toBeUndefined();
    // The flow is burnt: the victim must start again too.
    expect((await victim.go(callback)).status).toBe(400);
  });

  it('refuses a code obtained for another PKCE challenge', async () => {
    const b = browser();
    const login = await b.go(`${relay.url}/auth/login`);
    expect(login.status).toBe(303);
    const authorize = new URL(login.location!);
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('state')).toMatch(/.{22,}/);
    expect(authorize.searchParams.get('nonce')).toMatch(/.{22,}/);
    // An attacker swaps the challenge for one whose verifier they hold: the relay's verifier no longer fits.
    authorize.searchParams.set('code_challenge', 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
    const { page: loginPage } = await b.follow(authorize);
    const finished = await submit(b, loginPage, { username: 'admin', password: NEW_PASSWORD });
    const { page } = await followToCallback(b, finished);
    expect(page.status).toBe(400);
    expect(errorOf(page).code).toBe('SIGN_IN_FAILED');
    expect(errorOf(page).message).toContain('invalid_grant');
    expect(b.cookie(SESSION_COOKIE)).toBeUndefined();
  });

  it('rejects the session cookie replayed from another browser context, and ends that session', async () => {
    const owner = browser();
    await signIn(owner, relay.url, 'admin', NEW_PASSWORD);
    await whoAmI(owner, relay.url);

    // Only the session cookie, same User-Agent: no binding cookie.
    const cookieOnly = browser();
    owner.copyCookiesTo(cookieOnly, [SESSION_COOKIE]);
    const refused = await cookieOnly.go(`${relay.url}/api/session`);
    expect(refused.status).toBe(401);
    expect(errorOf(refused).code).toBe('UNAUTHENTICATED');
    expect(errorOf(refused).message).toContain('another browser');
    // The session is over for the owner too: whoever held the copy can do nothing more with it.
    expect((await owner.go(`${relay.url}/api/session`)).status).toBe(401);

    // Both cookies, other User-Agent.
    const second = browser();
    await signIn(second, relay.url, 'admin', NEW_PASSWORD);
    const otherBrowser = browser('Mozilla/5.0 (Windows NT 10.0) Other/2.0');
    second.copyCookiesTo(otherBrowser, [SESSION_COOKIE, BINDING_COOKIE]);
    expect((await otherBrowser.go(`${relay.url}/api/session`)).status).toBe(401);
    expect((await second.go(`${relay.url}/api/session`)).status).toBe(401);
  });

  it('requires the CSRF token and the relay Origin on state-changing requests', async () => {
    const b = browser();
    await signIn(b, relay.url, 'admin', NEW_PASSWORD);
    const { csrfToken } = await whoAmI(b, relay.url);
    const post = (headers: Record<string, string>) =>
      b.go(`${relay.url}/auth/logout`, { method: 'POST', headers });

    for (const [what, headers] of [
      ['no token', originOf(relay.url)],
      ['a wrong token', { ...originOf(relay.url), [CSRF_HEADER]: 'A'.repeat(43) }],
      ['another Origin', { origin: 'https://evil.example', [CSRF_HEADER]: csrfToken }],
      ['no Origin', { [CSRF_HEADER]: csrfToken }],
    ] as const) {
      const refused = await post(headers);
      expect(refused.status, what).toBe(403);
      expect(errorOf(refused).code, what).toBe('CSRF_REJECTED');
    }
    // None of them signed the user out.
    expect((await whoAmI(b, relay.url)).csrfToken).toBe(csrfToken);
  });

  it('logout ends the session on the relay and sends the browser to the provider to end its own', async () => {
    const b = browser();
    await signIn(b, relay.url, 'admin', NEW_PASSWORD);
    const { csrfToken } = await whoAmI(b, relay.url);
    const cookieBefore = b.cookie(SESSION_COOKIE)!;
    const out = await logout(b, relay.url, csrfToken);
    expect(out.status).toBe(303);
    const endSession = new URL(out.location!);
    expect(`${endSession.origin}${endSession.pathname}`).toBe(`${relay.url}/oidc/session/end`);
    expect(endSession.searchParams.get('id_token_hint')).toMatch(/^ey/);
    expect(endSession.searchParams.get('post_logout_redirect_uri')).toBe(`${relay.url}/`);
    expect(b.cookie(SESSION_COOKIE)).toBeUndefined();

    // The old cookie, put back, no longer opens anything.
    const replay = browser();
    b.copyCookiesTo(replay, [BINDING_COOKIE]);
    replay.jar.push({ name: SESSION_COOKIE, value: cookieBefore, host: new URL(relay.url).host, path: '/' });
    const refused = await replay.go(`${relay.url}/api/session`);
    expect(refused.status).toBe(401);
    expect(errorOf(refused).code).toBe('UNAUTHENTICATED');

    // At the provider: confirm, and come back to the console.
    const confirm = await b.go(endSession);
    expect(confirm.status).toBe(200);
    const form = formOf(confirm, 'op.logoutForm');
    const done = await b.go(form.action, {
      form: { ...form.fields, logout: 'yes' },
      headers: originOf(relay.url),
    });
    expect(done.status).toBe(303);
    expect(done.location).toBe(`${relay.url}/`);
    // The provider's own session is gone too: the next sign-in asks for the password again.
    await openLoginPage(b, relay.url);
  });

  it('logout answers JSON to the console when it asks for it', async () => {
    const b = browser();
    await signIn(b, relay.url, 'admin', NEW_PASSWORD);
    const { csrfToken } = await whoAmI(b, relay.url);
    const out = await logout(b, relay.url, csrfToken, 'application/json');
    expect(out.status).toBe(200);
    const body = out.json<{ signedOut: boolean; endSessionUrl: string }>();
    expect(body.signedOut).toBe(true);
    expect(body.endSessionUrl.startsWith(`${relay.url}/oidc/session/end?`)).toBe(true);
    expect((await b.go(`${relay.url}/api/session`)).status).toBe(401);
  });

  it('sends the security headers on every kind of response', async () => {
    const b = browser();
    const pages = [
      await b.go(`${relay.url}/healthz`),
      await b.go(`${relay.url}/api/session`),
      await b.go(`${relay.url}/auth/login`),
      await b.go(`${relay.url}/oidc/.well-known/openid-configuration`),
      await openLoginPage(b, relay.url),
      await b.go(`${relay.url}/no/such/route`),
    ];
    for (const page of pages) {
      const csp = String(page.headers['content-security-policy']);
      expect(csp, page.url).toContain("script-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain('unsafe-inline');
      expect(page.headers['strict-transport-security']).toMatch(/^max-age=\d{8,}/);
      expect(page.headers['x-content-type-options']).toBe('nosniff');
      expect(page.headers['referrer-policy']).toBe('same-origin');
      expect(page.headers['x-frame-options']).toBe('DENY');
    }
    expect(pages[1]!.headers['cache-control']).toBe('no-store');
    // The sign-in pages carry no script and no inline style.
    expect(pages[4]!.text).not.toMatch(/<script|style=|<style/i);
  });

  it('keeps the session sealed in the database: no name, org, role or token in clear', async () => {
    const b = browser();
    await signIn(b, relay.url, 'admin', NEW_PASSWORD);
    const me = await whoAmI(b, relay.url);
    const rows = await relay.db.sql<{ id_hash: Buffer; sealed: Buffer }[]>`
      SELECT id_hash, sealed FROM console_sessions`;
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      const bytes = Buffer.concat([row.id_hash, row.sealed]).toString('latin1');
      for (const secret of ['admin', 'default', me.user.id, me.csrfToken, b.cookie(SESSION_COOKIE)!]) {
        expect(bytes).not.toContain(secret);
      }
    }
    const columns = await relay.db.sql<{ column_name: string }[]>`
      SELECT column_name FROM information_schema.columns
      WHERE table_name = 'console_sessions' AND table_schema = current_schema()`;
    expect(columns.map((c) => c.column_name).sort()).toEqual([
      'created_at',
      'expires_at',
      'id_hash',
      'last_seen_at',
      'sealed',
    ]);
    const flows = await relay.db.sql<{ sealed: Buffer }[]>`SELECT sealed FROM sign_in_flows`;
    for (const flow of flows) expect(flow.sealed.toString('latin1')).not.toContain('admin');
    const [user] = await relay.db.sql<{ password_hash: string }[]>`
      SELECT password_hash FROM local_users WHERE username = 'admin'`;
    expect(user!.password_hash).toMatch(/^scrypt\$131072\$8\$1\$/);
    expect(user!.password_hash).not.toContain(NEW_PASSWORD);
    expect(b.cookie(SIGN_IN_COOKIE)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // The key that seals them is the appliance user's alone.
    expect(statSync(sessionKeyPath(relay.dataDir)).mode & 0o777).toBe(0o600);
  });

  it('keeps the admin token working for the CLI beside the sessions', async () => {
    const listed = await relay.admin.call<{ operators: unknown[] }>('GET', '/api/operators');
    expect(listed.operators).toEqual([]);
    // A session is not an admin token, and an admin route does not take a session.
    const b = browser();
    await signIn(b, relay.url, 'admin', NEW_PASSWORD);
    const refused = await b.go(`${relay.url}/api/operators`);
    expect(refused.status).toBe(401);
  });
});
