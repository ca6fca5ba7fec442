import Router from '@koa/router';
import type { SessionView } from '@dropops/protocol';
import type { Context } from 'koa';
import type { Logger } from 'pino';
import { z } from 'zod';
import { RelayError } from '../errors.ts';
import { randomSecret, sameSecret, sha256 } from '../security/secrets.ts';
import { clearSessionCookies, readCookies, setSessionCookies, setSignInCookie } from '../sessions/cookies.ts';
import { sessionOf, type SessionGuard } from '../sessions/guard.ts';
import type { ConsoleSession, SessionStore } from '../sessions/store.ts';
import { parseInput } from '../validation.ts';
import { escapeHtml, page } from './html.ts';
import { identityFromClaims, type ClaimMapping } from './identity.ts';
import type { OidcClient } from './oidc-client.ts';
import { SIGN_IN_TTL_SECONDS, type SignInFlows } from './sign-in-flows.ts';

export interface SignInRouteDeps {
  /** The relying party; known once the relay listens. */
  client: () => OidcClient;
  flows: SignInFlows;
  sessions: SessionStore;
  guard: SessionGuard;
  mapping: ClaimMapping;
  log: Logger;
}

/** Where to land after sign-in: a path on this relay, never another host (`//evil`, `/\evil`). */
const LocalPath = z
  .string()
  .max(512)
  .regex(/^\/(?![/\\])[\x21-\x7e]*$/, 'a path on this appliance, starting with a single /');
const LoginQuery = z.object({ returnTo: LocalPath.default('/') });
const CallbackQuery = z.object({
  state: z.string().min(1).max(512),
  code: z.string().min(1).max(4096).optional(),
  error: z.string().max(256).optional(),
  error_description: z.string().max(1024).optional(),
});

const browserHash = (secret: string) => sha256(secret).toString('base64url');

export function sessionView(session: ConsoleSession): SessionView {
  return {
    user: session.user,
    org: session.org,
    roles: session.roles,
    csrfToken: session.csrfToken,
    expiresAt: session.expiresAt.toISOString(),
    idleExpiresAt: session.idleExpiresAt.toISOString(),
  };
}

/** GET /auth/login, GET /auth/callback, POST /auth/logout and GET /api/session. */
export function signInRoutes(deps: SignInRouteDeps): Router {
  const router = new Router();

  router.get('/auth/login', async (ctx) => {
    const { returnTo } = parseInput(LoginQuery, ctx.query, 'sign-in request');
    const { url, checks } = await deps.client().authorizationUrl();
    const browser = readCookies(ctx.get('cookie')).signIn ?? randomSecret();
    setSignInCookie(ctx, browser, SIGN_IN_TTL_SECONDS * 1000);
    await deps.flows.save(checks.state, {
      nonce: checks.nonce,
      codeVerifier: checks.codeVerifier,
      browser: browserHash(browser),
      returnTo,
    });
    ctx.status = 303;
    ctx.redirect(url.href);
  });

  router.get('/auth/callback', async (ctx) => {
    const query = parseInput(CallbackQuery, ctx.query, 'sign-in callback');
    // Taking the flow ends it, whatever follows: a callback works once.
    const flow = await deps.flows.take(query.state);
    if (!flow) {
      throw new RelayError(
        'SIGN_IN_FAILED',
        'this sign-in is unknown, expired or already used; start again at /auth/login.',
      );
    }
    const browser = readCookies(ctx.get('cookie')).signIn;
    if (!browser || !sameSecret(browserHash(browser), flow.browser)) {
      throw new RelayError(
        'SIGN_IN_FAILED',
        'this sign-in was started in another browser; start again at /auth/login in this one.',
      );
    }
    if (query.error || !query.code) {
      throw new RelayError(
        'SIGN_IN_FAILED',
        `the identity provider ended the sign-in (${query.error ?? 'no code'}${query.error_description ? `: ${query.error_description}` : ''}); start again at /auth/login.`,
      );
    }
    const client = deps.client();
    const result = await client.redeem(ctx.querystring, {
      state: query.state,
      nonce: flow.nonce,
      codeVerifier: flow.codeVerifier,
    });
    const identity = identityFromClaims(result.claims, deps.mapping, client.issuer, result.idToken);
    const { sessionId, bindingSecret, session } = await deps.sessions.create(identity, ctx.get('user-agent'));
    setSessionCookies(ctx, sessionId, bindingSecret);
    deps.log.info(
      { code: 'SIGNED_IN', user: session.user.id, org: session.org, roles: session.roles, remote: ctx.ip },
      'console sign-in',
    );
    // A page, not a redirect: the hop back from the provider is cross-site, and a browser does not send a
    // SameSite=Strict cookie on a redirect chain that began there. Its own refresh is same-site.
    ctx.type = 'html';
    ctx.set('Refresh', `0; url=${flow.returnTo}`);
    ctx.body = page(
      'Signed in',
      `<p>Signed in as ${escapeHtml(session.user.name)}. <a href="${escapeHtml(flow.returnTo)}">Continue to the console</a>.</p>`,
    );
  });

  router.post('/auth/logout', deps.guard.requireSession(), async (ctx: Context) => {
    const session = sessionOf(ctx);
    await deps.sessions.destroy(session);
    clearSessionCookies(ctx);
    deps.log.info({ code: 'SIGNED_OUT', user: session.user.id, org: session.org }, 'console sign-out');
    const endSessionUrl = await deps.client().endSessionUrl(session.idToken);
    if (ctx.accepts('html', 'json') === 'json') {
      ctx.body = { signedOut: true, endSessionUrl };
    } else {
      ctx.status = 303;
      ctx.redirect(endSessionUrl);
    }
  });

  router.get('/api/session', deps.guard.requireSession(), (ctx) => {
    ctx.body = sessionView(sessionOf(ctx));
  });

  return router;
}
