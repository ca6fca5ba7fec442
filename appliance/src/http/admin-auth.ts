import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writePrivateKey } from '@dropops/pki';
import type { Context, Middleware } from 'koa';
import { RelayError } from '../errors.ts';
import { sha256 } from '../security/secrets.ts';

export const adminTokenPath = (dataDir: string) => join(dataDir, 'admin.token');

/**
 * The admin CLI's credential: a random token in the data dir, readable only by the appliance's user.
 * Whoever can read it already controls the appliance's files; the console's OIDC sessions replace it for people.
 */
export function ensureAdminToken(dataDir: string): string {
  const path = adminTokenPath(dataDir);
  if (!existsSync(path)) writePrivateKey(path, randomBytes(32).toString('base64url') + '\n');
  return readFileSync(path, 'utf8').trim();
}

/** Who the admin token speaks for in the audit record and in approvals it signs. */
export const ADMIN_IDENTITY = 'admin (appliance admin token)';

/** Whether a request carries the admin token (compared as sha256 digests in constant time). */
export function adminTokenCheck(token: string): (ctx: Context) => boolean {
  const expected = sha256(token);
  return (ctx) => {
    const header = ctx.get('authorization');
    const presented = header.startsWith('Bearer ') ? header.slice(7) : '';
    return presented !== '' && timingSafeEqual(sha256(presented), expected);
  };
}

export function requireAdmin(token: string): Middleware {
  const isAdmin = adminTokenCheck(token);
  return async (ctx, next) => {
    if (!isAdmin(ctx)) {
      throw new RelayError(
        'UNAUTHENTICATED',
        'admin routes need the token from the data dir (admin.token); the dropops-appliance CLI sends it.',
      );
    }
    await next();
  };
}
