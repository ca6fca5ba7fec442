import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { caFiles } from '@dropops/pki';
import { CSRF_HEADER, SessionView } from '@dropops/protocol';
import { BINDING_COOKIE, SESSION_COOKIE } from '../../appliance/src/sessions/cookies.ts';
import { Browser, formOf, type Page } from './browser.ts';
import { consoleUser, type ConsoleUser } from './console-user.ts';

/** Fails the caller (a test, or a benchmark outside vitest) with what the page said. */
function check(holds: boolean, what: string, page?: Page): void {
  if (!holds) throw new Error(page ? `${what} (HTTP ${page.status}): ${page.text.slice(0, 500)}` : what);
}

/** The relay's root CA, the only root the scripted browsers trust. */
export const rootOf = (dataDir: string) => readFileSync(caFiles(join(dataDir, 'pki')).rootCert, 'utf8');

export const newBrowser = (dataDir: string, userAgent?: string) => new Browser([rootOf(dataDir)], userAgent);

/** What a browser sends as Origin from a page of `url`. */
export const originOf = (url: string) => ({ origin: new URL(url).origin });

/** From /auth/login through the provider's redirects to the page that asks for a password. */
export async function openLoginPage(browser: Browser, relayUrl: string): Promise<Page> {
  const { page } = await browser.follow(`${relayUrl}/auth/login`);
  check(page.status === 200 && page.text.includes('name="password"'), 'no password form at sign-in', page);
  return page;
}

/** Posts a form of `page` with `fields` added, from the relay's own origin, as the browser would. */
export function submit(browser: Browser, page: Page, fields: Record<string, string>): Promise<Page> {
  const form = formOf(page);
  return browser.go(form.action, { form: { ...form.fields, ...fields }, headers: originOf(page.url) });
}

/** Follows the redirects after a finished interaction back to the relay's callback. */
export async function followToCallback(
  browser: Browser,
  finished: Page,
): Promise<{ page: Page; callback: string; callbackResponse: Page }> {
  check(finished.status === 303, 'the interaction did not finish with a redirect', finished);
  const { page, pages } = await browser.follow(finished.location!);
  const callbackResponse = pages.find((hop) => new URL(hop.url).pathname === '/auth/callback');
  check(callbackResponse !== undefined, `no callback among ${pages.map((p) => p.url).join(', ')}`);
  return { page, callback: callbackResponse!.url, callbackResponse: callbackResponse! };
}

/**
 * A first sign-in (the first administrator's, or an account made with a one-time password): the one-time password leads only to the change-password page,
 * and the new password completes the sign-in.
 */
export async function firstSignIn(
  browser: Browser,
  relayUrl: string,
  oneTimePassword: string,
  newPassword: string,
  username = 'admin',
) {
  const login = await openLoginPage(browser, relayUrl);
  return followToCallback(
    browser,
    await changeOneTimePassword(browser, login, oneTimePassword, newPassword, username),
  );
}

/** From the sign-in page, the one-time password and then a new one: the provider's answer that finishes it. */
export async function changeOneTimePassword(
  browser: Browser,
  login: Page,
  oneTimePassword: string,
  newPassword: string,
  username = 'admin',
): Promise<Page> {
  const change = await submit(browser, login, { username, password: oneTimePassword });
  check(
    change.status === 200 && change.text.includes('Choose a new password'),
    'the one-time password did not lead to the change-password page',
    change,
  );
  return submit(browser, change, { password: oneTimePassword, newPassword, confirm: newPassword });
}

/** A later sign-in with a password of one's own. */
export async function signIn(browser: Browser, relayUrl: string, username: string, password: string) {
  const login = await openLoginPage(browser, relayUrl);
  return followToCallback(browser, await submit(browser, login, { username, password }));
}

export async function whoAmI(browser: Browser, relayUrl: string): Promise<SessionView> {
  const page = await browser.go(`${relayUrl}/api/session`);
  check(page.status === 200, 'GET /api/session failed', page);
  return SessionView.parse(page.json());
}

/** POST /auth/logout the way the console does it: CSRF header, own Origin. */
export function logout(
  browser: Browser,
  relayUrl: string,
  csrfToken: string,
  accept?: string,
): Promise<Page> {
  return browser.go(`${relayUrl}/auth/logout`, {
    method: 'POST',
    headers: { ...originOf(relayUrl), [CSRF_HEADER]: csrfToken, ...(accept ? { accept } : {}) },
  });
}

export function errorOf(page: Page): { code: string; message: string } {
  return page.json<{ error: { code: string; message: string } }>().error;
}

/** The console user of a browser that signed in: its cookies, its User-Agent and its session's CSRF token. */
export async function signedInUser(
  browser: Browser,
  relay: { url: string; dataDir: string },
): Promise<ConsoleUser> {
  const me = await whoAmI(browser, relay.url);
  return consoleUser(relay, {
    name: me.user.name,
    org: me.org,
    cookie: [SESSION_COOKIE, BINDING_COOKIE].map((name) => `${name}=${browser.cookie(name)}`).join('; '),
    userAgent: browser.userAgent,
    csrfToken: me.csrfToken,
  });
}
