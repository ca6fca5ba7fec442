import type { Middleware } from 'koa';

/**
 * No inline script or style anywhere (the console ships its code as files, the sign-in pages use none), no
 * framing, forms that only post back here, and nothing loaded from elsewhere.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const HEADERS: Record<string, string> = {
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  // The relay only ever speaks HTTPS; a year, as browsers' preload rules expect.
  'Strict-Transport-Security': 'max-age=31536000; includeSubDomains',
  'X-Content-Type-Options': 'nosniff',
  // Not `no-referrer`: under it a browser sends `Origin: null` on a form post, and the sign-in forms' Origin
  // check would refuse every real browser. `same-origin` keeps the Origin on our own posts and sends no referrer
  // to any other site.
  'Referrer-Policy': 'same-origin',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Permissions-Policy': 'camera=(), microphone=(), geolocation=(), payment=()',
};

/** Sets the security headers before anything else runs, so errors and the embedded provider's pages carry them too. */
export function securityHeaders(): Middleware {
  return async (ctx, next) => {
    ctx.set(HEADERS);
    // Answers about sessions and sign-in are per user: never stored by a browser or proxy cache.
    if (/^\/(api|auth|oidc)(\/|$)/.test(ctx.path)) ctx.set('Cache-Control', 'no-store');
    await next();
  };
}
