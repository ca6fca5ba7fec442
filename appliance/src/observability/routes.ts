import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Router from '@koa/router';
import { writePrivateKey } from '@dropops/pki';
import { RelayError } from '../errors.ts';
import { adminTokenCheck } from '../http/admin-auth.ts';
import { randomSecret } from '../security/secrets.ts';
import type { ApplianceMetrics } from './metrics.ts';
import type { Readiness } from './readiness.ts';

export const metricsTokenPath = (dataDir: string) => join(dataDir, 'metrics.token');

/**
 * The scrape credential: DROPOPS_METRICS_TOKEN when set (compose puts it in .env for Prometheus), else a
 * random token in `<data-dir>/metrics.token` (0600), made on first start. It is not the admin token, so the
 * Prometheus configuration never holds the power to administer the appliance.
 */
export function ensureMetricsToken(dataDir: string, configured?: string): string {
  if (configured) return configured;
  const path = metricsTokenPath(dataDir);
  if (!existsSync(path)) writePrivateKey(path, randomSecret() + '\n');
  return readFileSync(path, 'utf8').trim();
}

export interface OperationsDeps {
  metrics: ApplianceMetrics;
  readiness: Readiness;
  metricsToken: string;
}

/**
 * `/livez` (the process answers), `/readyz` (its dependencies answer and it is not draining; 503 with the
 * reason otherwise) and `/metrics` (Prometheus text, only with the metrics token). The probes carry no
 * credential because load balancers and orchestrators call them; they say only what is up.
 */
export function operationsRoutes(deps: OperationsDeps): ReturnType<Router['routes']> {
  const router = new Router();
  // The same Bearer check as the admin token's, against the metrics token.
  const isScraper = adminTokenCheck(deps.metricsToken);
  router.get('/livez', (ctx) => {
    ctx.body = { live: true };
  });
  router.get('/readyz', async (ctx) => {
    const report = await deps.readiness.report();
    ctx.status = report.ready ? 200 : 503;
    ctx.body = report;
  });
  router.get('/metrics', async (ctx) => {
    if (!isScraper(ctx)) {
      throw new RelayError(
        'UNAUTHENTICATED',
        '/metrics needs the metrics token (metrics.token in the data dir, or DROPOPS_METRICS_TOKEN) as a Bearer token.',
      );
    }
    ctx.type = deps.metrics.contentType;
    ctx.body = await deps.metrics.render();
  });
  return router.routes();
}
