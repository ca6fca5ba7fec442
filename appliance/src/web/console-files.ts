import { createReadStream, existsSync, statSync } from 'node:fs';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Middleware } from 'koa';

/** Where `vite build` puts the console (console/dist in this repository). */
export const CONSOLE_DIST = fileURLToPath(new URL('../../../console/dist', import.meta.url));

/** Paths the relay answers itself; the console never shadows them. */
const RELAY_PATHS = /^\/(api|auth|oidc|socket\.io|healthz|livez|readyz|metrics)(\/|$)/;

/**
 * Serves the built console: its files with their content type, hashed assets as immutable for a year, and
 * index.html (never cached, so a new build is picked up at once) for every other GET that looks like a page of
 * the single-page app. Paths resolve inside `dir` only. Without a build, the pages say how to make one.
 */
export function serveConsole(dir: string = CONSOLE_DIST): Middleware {
  const root = resolve(dir);
  const index = join(root, 'index.html');

  const fileFor = (path: string): string | undefined => {
    let decoded: string;
    try {
      decoded = decodeURIComponent(path);
    } catch {
      return undefined;
    }
    if (decoded.includes('\0')) return undefined;
    const candidate = resolve(root, `.${decoded}`);
    if (candidate !== root && !candidate.startsWith(root + sep)) return undefined;
    return existsSync(candidate) && statSync(candidate).isFile() ? candidate : undefined;
  };

  return async (ctx, next) => {
    if ((ctx.method !== 'GET' && ctx.method !== 'HEAD') || RELAY_PATHS.test(ctx.path)) return next();
    const file = fileFor(ctx.path);
    // A client route (no extension) gets the app; a missing asset stays a 404 from the relay.
    const target = file ?? (extname(ctx.path) === '' ? index : undefined);
    if (!target) return next();
    if (!existsSync(target)) {
      ctx.status = 503;
      ctx.type = 'text/plain';
      ctx.body = 'The console is not built: run `npm run build:console` (npm start does it for you).\n';
      return;
    }
    ctx.type = extname(target);
    ctx.set(
      'Cache-Control',
      target.startsWith(join(root, 'assets') + sep) ? 'public, max-age=31536000, immutable' : 'no-cache',
    );
    ctx.length = statSync(target).size;
    ctx.body = createReadStream(target);
  };
}
