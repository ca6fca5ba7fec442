import { parse } from 'cookie';
import type { Context } from 'koa';

// `__Host-` cookies must be Secure, Path=/ and carry no Domain: the browser refuses them otherwise, so no
// sibling host or plain-HTTP page can plant or overwrite them.
export const SESSION_COOKIE = '__Host-dropops-session';
/** A second random secret set beside the session cookie; the session is bound to it and the User-Agent. */
export const BINDING_COOKIE = '__Host-dropops-bind';
/** Ties a sign-in flow to the browser that started it. Lax: the IdP's redirect back is a cross-site navigation. */
export const SIGN_IN_COOKIE = '__Host-dropops-signin';

export interface SessionCookies {
  session?: string;
  binding?: string;
  signIn?: string;
}

const TOKEN = /^[A-Za-z0-9_-]{43}$/;
const token = (value: string | undefined) => (value && TOKEN.test(value) ? value : undefined);

/** Our cookies from a raw Cookie header (Koa requests and Socket.IO handshakes alike); malformed ones are dropped. */
export function readCookies(header: string | undefined): SessionCookies {
  const all = header ? parse(header) : {};
  return {
    session: token(all[SESSION_COOKIE]),
    binding: token(all[BINDING_COOKIE]),
    signIn: token(all[SIGN_IN_COOKIE]),
  };
}

const base = { httpOnly: true, secure: true, path: '/', overwrite: true } as const;

/** Browser-session cookies (no Max-Age): they go when the browser closes, and the server ends them sooner. */
export function setSessionCookies(ctx: Context, sessionId: string, bindingSecret: string): void {
  ctx.cookies.set(SESSION_COOKIE, sessionId, { ...base, sameSite: 'strict' });
  ctx.cookies.set(BINDING_COOKIE, bindingSecret, { ...base, sameSite: 'strict' });
}

export function clearSessionCookies(ctx: Context): void {
  ctx.cookies.set(SESSION_COOKIE, '', { ...base, sameSite: 'strict' });
  ctx.cookies.set(BINDING_COOKIE, '', { ...base, sameSite: 'strict' });
}

export function setSignInCookie(ctx: Context, secret: string, maxAgeMs: number): void {
  ctx.cookies.set(SIGN_IN_COOKIE, secret, { ...base, sameSite: 'lax', maxAge: maxAgeMs });
}
