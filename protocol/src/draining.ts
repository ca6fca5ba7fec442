// What a relay replica tells its operators before it shuts down, so they move to another replica first.
import { z } from 'zod';

/**
 * relay → operator (`relay:draining`): this replica is going away. The operator reports what it is still
 * running, then leaves and dials again (the next relay in its list, or the same address, where a load
 * balancer sends it to a replica that is still ready) after `retryAfterMs` plus jitter. Not a stop.
 */
export const RelayDraining = z.object({
  retryAfterMs: z
    .number()
    .int()
    .min(0)
    .max(10 * 60_000),
  reason: z.string().max(200),
});
export type RelayDraining = z.infer<typeof RelayDraining>;
