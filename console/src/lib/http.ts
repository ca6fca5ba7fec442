import { CSRF_HEADER } from '@dropops/protocol/session';

/** A failure the relay explained: its code and a sentence for the person. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

let csrfToken: string | undefined;

/** The session's CSRF token, sent on every state-changing request (GET /api/session gives it). */
export function setCsrfToken(token: string): void {
  csrfToken = token;
}

/** Where the sign-in starts, coming back to the page the person was on. */
export function signInUrl(): string {
  const back = `${location.pathname}${location.search}`;
  return `/auth/login?returnTo=${encodeURIComponent(back)}`;
}

/**
 * A JSON request to the relay with the session cookie. A 401 means the session is gone: the browser goes to
 * the sign-in, which brings it back here. Every other failure is an ApiError with the relay's own words.
 */
export async function api<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET') {
    headers['content-type'] = 'application/json';
    if (csrfToken) headers[CSRF_HEADER] = csrfToken;
  }
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: method === 'GET' ? undefined : JSON.stringify(body ?? {}),
    });
  } catch {
    throw new ApiError('UNREACHABLE', 'the appliance did not answer; check that it runs and try again.', 0);
  }
  if (response.status === 401) {
    location.assign(signInUrl());
    throw new ApiError('UNAUTHENTICATED', 'your session has ended; signing in again.', 401);
  }
  const payload = (await response.json().catch(() => undefined)) as
    { error?: { code: string; message: string } } | undefined;
  if (!response.ok) {
    const error = payload?.error;
    throw new ApiError(
      error?.code ?? 'INTERNAL',
      error?.message ?? `the appliance answered ${response.status}.`,
      response.status,
    );
  }
  return payload as T;
}

/** A query string from the filters that are set. */
export function query(params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}
