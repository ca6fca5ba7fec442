import type Router from '@koa/router';
import { AuditLog } from '../audit/log.ts';
import { auditRoutes } from '../audit/routes.ts';
import { LocalUsers } from '../auth/embedded/local-users.ts';
import type { ApplianceConfig } from '../config.ts';
import { panelRoutes, type PanelRouteDeps } from '../operators/panel-routes.ts';
import { userRoutes } from '../users/routes.ts';

/**
 * The console's organisation-scoped REST API (/api/org/...): the operator panel, the audit view and, with the
 * embedded identity provider, its local accounts. Every route needs a session; changes need its CSRF token.
 */
export function orgApiRoutes(
  config: ApplianceConfig,
  deps: Omit<PanelRouteDeps, 'audit'>,
): ReturnType<Router['routes']>[] {
  const audit = new AuditLog(deps.sql);
  return [
    panelRoutes({ ...deps, audit }).routes(),
    auditRoutes({ guard: deps.guard, audit }).routes(),
    userRoutes({
      guard: deps.guard,
      users: config.oidcIssuer ? undefined : new LocalUsers(deps.sql),
      audit,
    }).routes(),
  ];
}
