import Router from '@koa/router';
import { CreateLocalUser, type CreatedLocalUser } from '@dropops/protocol';
import type { AuditLog } from '../audit/log.ts';
import type { LocalUsers } from '../auth/embedded/local-users.ts';
import { principalOf } from '../console/principal.ts';
import { RelayError } from '../errors.ts';
import { sessionOf, type SessionGuard } from '../sessions/guard.ts';
import { parseInput } from '../validation.ts';

/**
 * `POST /api/org/users`: an administrator adds an account to the embedded identity provider, in their own
 * organisation, with a one-time password shown once. With an external issuer, accounts live there instead.
 */
export function userRoutes(deps: {
  guard: SessionGuard;
  /** Undefined when an external identity provider is configured. */
  users: LocalUsers | undefined;
  audit: AuditLog;
}): Router {
  const router = new Router();

  router.post('/api/org/users', deps.guard.requireSession(['admin']), async (ctx) => {
    if (!deps.users) {
      throw new RelayError(
        'BAD_REQUEST',
        'accounts are managed at the configured identity provider; add the person there with a DropOps role.',
      );
    }
    const input = parseInput(CreateLocalUser, ctx.request.body ?? {}, 'user');
    const session = sessionOf(ctx);
    const { user, oneTimePassword } = await deps.users.create(input.username, session.org, input.roles);
    await deps.audit.record(principalOf(session, ctx.ip), 'user.create', user.id, {
      username: user.username,
      roles: user.roles,
    });
    ctx.status = 201;
    const body: CreatedLocalUser = {
      user: { id: user.id, username: user.username, roles: user.roles },
      oneTimePassword,
    };
    ctx.body = body;
  });

  return router;
}
