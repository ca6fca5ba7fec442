import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import { z } from 'zod';
import { RelayError } from '../../errors.ts';
import type { TokenBuckets } from '../../security/rate-limit.ts';
import { escapeHtml, page } from '../html.ts';
import { interactionPath } from './provider.ts';
import { FIRST_ADMIN, NewPassword, type LocalUser, type LocalUsers } from './local-users.ts';

export interface InteractionDeps {
  provider: () => Provider;
  users: LocalUsers;
  /** Refuses a form posted from a page that is not this relay's. */
  requireOrigin: (ctx: Context) => void;
  /** Password attempts per user name, on top of the per-address limit every request has. */
  attempts: TokenBuckets;
  log: Logger;
}

const field = z.string().max(256);
const LoginForm = z.object({ username: field.min(1), password: field.min(1) });
const ChangeForm = z.object({
  username: field.min(1),
  password: field.min(1),
  newPassword: field,
  confirm: field,
});

function show(ctx: Context, status: number, title: string, body: string): void {
  ctx.status = status;
  ctx.type = 'html';
  ctx.body = page(title, body);
}

const problem = (text: string | undefined) => (text ? `<p role="alert">${escapeHtml(text)}</p>\n` : '');

function loginPage(ctx: Context, uid: string, status = 200, error?: string): void {
  show(
    ctx,
    status,
    'Sign in',
    `${problem(error)}<form method="post" action="${escapeHtml(interactionPath(uid))}/login">
<p><label>User name <input name="username" autocomplete="username" required autofocus></label></p>
<p><label>Password <input name="password" type="password" autocomplete="current-password" required></label></p>
<p><button type="submit">Sign in</button></p>
</form>`,
  );
}

function changePage(ctx: Context, uid: string, username: string, status = 200, error?: string): void {
  show(
    ctx,
    status,
    'Choose a new password',
    `${problem(error)}<p>The password you used can be used only once. Choose your own (at least 12 characters).</p>
<form method="post" action="${escapeHtml(interactionPath(uid))}/password">
<input type="hidden" name="username" value="${escapeHtml(username)}">
<p><label>Current password <input name="password" type="password" autocomplete="current-password" required></label></p>
<p><label>New password <input name="newPassword" type="password" autocomplete="new-password" minlength="12" required></label></p>
<p><label>New password again <input name="confirm" type="password" autocomplete="new-password" minlength="12" required></label></p>
<p><button type="submit">Change password and sign in</button></p>
</form>`,
  );
}

/** Why a new password is refused, or undefined when it is acceptable. */
function passwordProblem(form: z.infer<typeof ChangeForm>): string | undefined {
  const parsed = NewPassword.safeParse(form.newPassword);
  if (!parsed.success) return parsed.error.issues[0]!.message;
  if (form.newPassword !== form.confirm) return 'the two new passwords differ';
  if (form.newPassword === form.password) return 'the new password must differ from the one-time password';
  if (form.newPassword.toLowerCase().includes(form.username.toLowerCase())) {
    return 'the new password must not contain the user name';
  }
  return undefined;
}

/**
 * The embedded provider's interaction pages: sign in with a local account and, when its password was a
 * one-time one, choose a new one before the sign-in completes. There is no other way past a one-time password.
 */
export function interactionRoutes(deps: InteractionDeps): Router {
  const router = new Router();
  const forms = bodyParser({ enableTypes: ['form'], formLimit: '8kb', encoding: 'utf-8' });

  /** The pending interaction, or a page telling the person to start again. */
  async function pending(ctx: Context) {
    try {
      const details = await deps.provider().interactionDetails(ctx.req, ctx.res);
      if (details.uid === ctx.params.uid) return details;
    } catch {
      // The interaction cookie is missing, expired, or from another sign-in.
    }
    show(
      ctx,
      400,
      'Sign-in expired',
      '<p>This sign-in has expired. <a href="/auth/login">Start again</a>.</p>',
    );
    return undefined;
  }

  /** Completes login and consent at once: the console is the provider's only client, a first-party one. */
  async function finish(
    ctx: Context,
    user: LocalUser,
    details: Awaited<ReturnType<Provider['interactionDetails']>>,
  ) {
    const provider = deps.provider();
    const grant = new provider.Grant({ accountId: user.id, clientId: String(details.params.client_id) });
    grant.addOIDCScope(String(details.params.scope ?? 'openid'));
    const grantId = await grant.save();
    ctx.respond = false;
    await provider.interactionFinished(
      ctx.req,
      ctx.res,
      { login: { accountId: user.id }, consent: { grantId } },
      { mergeWithLastSubmission: false },
    );
  }

  function parseForm<T extends z.ZodTypeAny>(ctx: Context, schema: T): z.infer<T> | undefined {
    deps.requireOrigin(ctx);
    const parsed = schema.safeParse(ctx.request.body);
    return parsed.success ? parsed.data : undefined;
  }

  /** The account behind a password, counting failures per user name (a success gives its attempt back). */
  async function checkPassword(username: string, password: string): Promise<LocalUser | null> {
    const key = `login:${username.toLowerCase()}`;
    const retryAfter = deps.attempts.take(key);
    if (retryAfter > 0) {
      throw new RelayError('RATE_LIMITED', `too many failed sign-ins for ${username}; wait ${retryAfter} s.`);
    }
    const user = await deps.users.verify(username, password);
    if (user) deps.attempts.refund(key);
    return user;
  }

  router.get('/oidc/interaction/:uid', async (ctx) => {
    const details = await pending(ctx);
    if (!details) return;
    if (details.prompt.name === 'login') return loginPage(ctx, details.uid);
    // Consent for a session that is already signed in at the provider.
    const accountId = details.session?.accountId;
    const user = accountId ? await deps.users.find(accountId) : undefined;
    if (!user || user.mustChangePassword) return loginPage(ctx, details.uid);
    await finish(ctx, user, details);
  });

  router.post('/oidc/interaction/:uid/login', forms, async (ctx) => {
    const details = await pending(ctx);
    if (!details) return;
    const form = parseForm(ctx, LoginForm);
    if (!form) return loginPage(ctx, details.uid, 400, 'Enter a user name and a password.');
    const user = await checkPassword(form.username, form.password);
    if (!user) {
      deps.log.warn({ code: 'SIGN_IN_REFUSED', username: form.username, remote: ctx.ip }, 'wrong password');
      return loginPage(ctx, details.uid, 401, 'Wrong user name or password.');
    }
    if (user.mustChangePassword) return changePage(ctx, details.uid, user.username);
    await finish(ctx, user, details);
  });

  router.post('/oidc/interaction/:uid/password', forms, async (ctx) => {
    const details = await pending(ctx);
    if (!details) return;
    const form = parseForm(ctx, ChangeForm);
    if (!form) return loginPage(ctx, details.uid, 400, 'Fill in every field.');
    const user = await checkPassword(form.username, form.password);
    if (!user) return loginPage(ctx, details.uid, 401, 'Wrong user name or password.');
    const problemText = passwordProblem(form);
    if (problemText) return changePage(ctx, details.uid, user.username, 400, `Not changed: ${problemText}.`);
    await deps.users.changePassword(user.id, form.newPassword);
    deps.log.info(
      { code: 'PASSWORD_CHANGED', user: user.id, first: user.username === FIRST_ADMIN },
      'password changed',
    );
    await finish(ctx, { ...user, mustChangePassword: false }, details);
  });

  return router;
}
