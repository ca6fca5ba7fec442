import type { IncomingMessage } from 'node:http';
import type { Middleware } from 'koa';
import type Provider from 'oidc-provider';
import { prefixMount } from '../../http/route-table.ts';
import { EMBEDDED_PREFIX } from './provider.ts';

/**
 * Hands every request under /oidc to the embedded provider, the way Express mounts it: the prefix is cut from
 * `req.url` and kept in `req.originalUrl`, from which oidc-provider rebuilds its own URLs. The provider writes
 * the response itself.
 */
export function mountProvider(provider: () => Provider | undefined): Middleware {
  let handler: ((req: IncomingMessage, res: import('node:http').ServerResponse) => Promise<void>) | undefined;
  return prefixMount(EMBEDDED_PREFIX, async (ctx, next) => {
    const inside = ctx.path === EMBEDDED_PREFIX || ctx.path.startsWith(`${EMBEDDED_PREFIX}/`);
    const target = inside ? provider() : undefined;
    if (!target) return next();
    handler ??= target.callback() as unknown as typeof handler;
    const req = ctx.req as IncomingMessage & { originalUrl?: string };
    req.originalUrl = req.url;
    req.url = req.url!.slice(EMBEDDED_PREFIX.length) || '/';
    ctx.respond = false;
    await handler!(req, ctx.res);
  });
}
