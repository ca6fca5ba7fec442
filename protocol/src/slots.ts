import { z } from 'zod';

// Operator slots as the APIs show them, and the names people give things: browser-safe, so the console
// imports them too.

/** Names people choose for organisations, operator slots and local accounts. */
export const Slug = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9-]{0,62}$/,
    'use 1 to 63 lowercase letters, digits and dashes, starting with a letter or digit',
  );

export const OperatorSlot = z.object({
  id: z.string(),
  org: z.string(),
  name: z.string(),
  createdAt: z.string(),
  fingerprint: z.string().nullable(),
  keyState: z.enum(['active', 'revoked']),
  connected: z.boolean(),
  lastSeenAt: z.string().nullable(),
  /** What approval policies key on (`production`, ...). */
  tags: z.array(z.string()).default([]),
});
export type OperatorSlot = z.infer<typeof OperatorSlot>;
