import { z } from 'zod';

/** The roles a console user can hold; an identity provider's other roles are ignored. */
export const DropOpsRole = z.enum(['admin', 'approver', 'viewer']);
export type DropOpsRole = z.infer<typeof DropOpsRole>;

/** The request header that carries a session's CSRF token on every state-changing request. */
export const CSRF_HEADER = 'x-csrf-token';

/** `GET /api/session`: who is signed in, as the relay's session says, and the token for state changes. */
export const SessionView = z.object({
  user: z.object({ id: z.string(), name: z.string() }),
  org: z.string(),
  roles: z.array(DropOpsRole),
  csrfToken: z.string(),
  /** When the session ends at the latest, and when it ends unless another request comes before. */
  expiresAt: z.string(),
  idleExpiresAt: z.string(),
});
export type SessionView = z.infer<typeof SessionView>;
