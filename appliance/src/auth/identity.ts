import { CreateOperatorRequest, DropOpsRole } from '@dropops/protocol';
import { RelayError } from '../errors.ts';
import type { SessionIdentity } from '../sessions/store.ts';

export interface ClaimMapping {
  /** Dotted path to the list of role names (Keycloak: `realm_access.roles`). */
  rolesClaim: string;
  /** Dotted path to the organisation; absent means `defaultOrg`. */
  orgClaim: string;
  defaultOrg: string;
}

/** The value at a dotted path in a claims object (`realm_access.roles`), or undefined. */
export function claimAt(claims: Record<string, unknown>, path: string): unknown {
  let value: unknown = claims;
  for (const part of path.split('.')) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

const firstAt = (sources: Record<string, unknown>[], path: string) =>
  sources.map((claims) => claimAt(claims, path)).find((value) => value !== undefined);

const orgName = CreateOperatorRequest.shape.org;

/**
 * Maps a verified ID token's claims (and, after them, the access token's: Keycloak puts realm roles only there
 * by default) to who the user is in DropOps. Role names other than admin, approver and viewer are ignored; a
 * user with none of them is refused.
 */
export function identityFromClaims(
  sources: [idToken: Record<string, unknown>, ...more: Record<string, unknown>[]],
  mapping: ClaimMapping,
  issuer: string,
  idToken: string | undefined,
): SessionIdentity {
  const [id] = sources;
  const sub = typeof id.sub === 'string' ? id.sub : '';
  if (!sub)
    throw new RelayError('SIGN_IN_FAILED', 'the identity provider sent no subject (sub) for the user.');
  const name = [id.preferred_username, id.name, id.email, sub].find(
    (value): value is string => typeof value === 'string' && value.length > 0,
  )!;

  const listed = firstAt(sources, mapping.rolesClaim);
  const roles = Array.isArray(listed) ? DropOpsRole.options.filter((role) => listed.includes(role)) : [];
  if (roles.length === 0) {
    throw new RelayError(
      'FORBIDDEN',
      `the account ${name} holds none of the roles admin, approver or viewer (claim ${mapping.rolesClaim}); ask an administrator of the identity provider to grant one.`,
    );
  }

  const claimedOrg = firstAt(sources, mapping.orgClaim);
  const org = orgName.safeParse(claimedOrg ?? mapping.defaultOrg);
  if (!org.success) {
    throw new RelayError(
      'SIGN_IN_FAILED',
      `the organisation claim ${mapping.orgClaim} is not an organisation name (1 to 63 lowercase letters, digits and dashes); fix it at the identity provider.`,
    );
  }
  return { user: { id: sub, name: name.slice(0, 255) }, org: org.data, roles, issuer, idToken };
}
