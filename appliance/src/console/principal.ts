import type { DropOpsRole } from '@dropops/protocol';
import type { ConsoleSession } from '../sessions/store.ts';

/** The person behind a console request, taken only from their validated session and the connection. */
export interface Principal {
  /** The identity provider's subject; unique only together with `issuer`. */
  userId: string;
  issuer: string;
  name: string;
  org: string;
  roles: readonly DropOpsRole[];
  /** The address the request came from, for the audit trail. */
  ip: string | null;
}

export function principalOf(session: ConsoleSession, ip: string | null | undefined): Principal {
  return {
    userId: session.user.id,
    issuer: session.issuer,
    name: session.user.name,
    org: session.org,
    roles: session.roles,
    ip: ip ?? null,
  };
}

/** One key per person across identity providers: two people never share it. */
export const personKey = (p: Pick<Principal, 'issuer' | 'userId'>) => `${p.issuer}|${p.userId}`;

export const mayApprove = (p: Principal) => p.roles.includes('approver') || p.roles.includes('admin');
