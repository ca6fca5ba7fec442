import type { Middleware } from 'koa';

/** One HTTP route the relay answers: a method and a path pattern (`*` for a whole prefix mount). */
export interface RouteEntry {
  method: string;
  path: string;
}

interface RouterLayer {
  methods: string[];
  path: string | RegExp;
}

const MOUNT = Symbol('dropops.mountedAt');

/**
 * Marks a middleware that answers everything under `prefix` itself (the embedded identity provider), so the
 * route table names it although no router describes its paths.
 */
export function prefixMount(prefix: string, middleware: Middleware): Middleware {
  return Object.assign(middleware, { [MOUNT]: prefix });
}

/**
 * Every route the middleware stack serves, read from the routers themselves (`router.routes()` carries its
 * router) and from prefix mounts, so a test can hold each one to an authorization rule and a route added
 * later without a rule is noticed. HEAD, which the router adds to every GET, is left out.
 */
export function routeTable(stack: readonly Middleware[]): RouteEntry[] {
  const routes: RouteEntry[] = [];
  for (const middleware of stack) {
    const mounted = (middleware as { [MOUNT]?: string })[MOUNT];
    if (mounted) routes.push({ method: '*', path: `${mounted}/*` });
    const router = (middleware as { router?: { stack: RouterLayer[] } }).router;
    for (const layer of router?.stack ?? []) {
      for (const method of layer.methods) {
        if (method !== 'HEAD') routes.push({ method, path: String(layer.path) });
      }
    }
  }
  return routes;
}
