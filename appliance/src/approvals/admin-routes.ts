import Router from '@koa/router';
import { z } from 'zod';
import { RelayError } from '../errors.ts';
import { requireAdmin } from '../http/admin-auth.ts';
import type { SlotStore } from '../operators/slots.ts';
import { parseInput } from '../validation.ts';
import { ApprovalPolicyInput, OperatorTag, type ApprovalPolicies } from './policy.ts';

const SetTags = z.object({ tags: z.array(OperatorTag).max(32) });

/**
 * Admin verbs (the admin token) for what approval policies rest on: the tags of operator slots, and each
 * organisation's rule per tag (`POST /api/approval-policies`, `POST /api/approval-policies/remove`).
 */
export function approvalAdminRoutes(deps: {
  adminToken: string;
  slots: SlotStore;
  policies: ApprovalPolicies;
}): Router {
  const router = new Router();
  const admin = requireAdmin(deps.adminToken);

  router.post('/api/operators/:ref/tags', admin, async (ctx) => {
    const { tags } = parseInput(SetTags, ctx.request.body ?? {}, 'tags');
    const slot = await deps.slots.find(ctx.params.ref!);
    const row = await deps.slots.setTags(slot.id, tags);
    ctx.body = { operator: { id: row.id, org: row.org, name: row.name, tags: row.tags } };
  });
  router.get('/api/approval-policies', admin, async (ctx) => {
    ctx.body = { policies: await deps.policies.list() };
  });
  router.post('/api/approval-policies', admin, async (ctx) => {
    const policy = parseInput(ApprovalPolicyInput, ctx.request.body ?? {}, 'approval policy');
    await deps.policies.set(policy);
    ctx.body = { policy };
  });
  router.post('/api/approval-policies/remove', admin, async (ctx) => {
    const { org, tag } = parseInput(
      ApprovalPolicyInput.pick({ org: true, tag: true }),
      ctx.request.body ?? {},
      'policy',
    );
    if (!(await deps.policies.remove(org, tag)))
      throw new RelayError(
        'BAD_REQUEST',
        `no policy for tag ${tag} in org ${org}; \`policy list\` shows them.`,
      );
    ctx.body = { removed: { org, tag } };
  });
  return router;
}
