import Router from '@koa/router';
import { ApproveProposal, BindOperators, DenyProposal, RunCommand, SendMessage } from '@dropops/protocol';
import type { Context } from 'koa';
import type { ApprovalService } from '../approvals/approval-service.ts';
import type { ConversationService } from '../conversations/service.ts';
import { sessionOf, type SessionGuard } from '../sessions/guard.ts';
import { parseInput } from '../validation.ts';
import { principalOf } from './principal.ts';

const withoutConversation = {
  bind: BindOperators.omit({ conversationId: true }),
  message: SendMessage.omit({ conversationId: true }),
  run: RunCommand.omit({ conversationId: true }),
};
const approve = ApproveProposal.omit({ proposalId: true });
const deny = DenyProposal.omit({ proposalId: true });

/**
 * The REST twins of the console's socket events, under /api/conversations and /api/proposals. A message or a
 * typed command answers once the conversation has nothing running (idle, or waiting for an approval), with
 * the conversation's events so far. Every route needs a session; changes also need its CSRF token and Origin.
 */
export function consoleRoutes(deps: {
  guard: SessionGuard;
  conversations: ConversationService;
  approvals: ApprovalService;
}): Router {
  const { conversations, approvals } = deps;
  const router = new Router();
  const session = deps.guard.requireSession();
  const who = (ctx: Context) => principalOf(sessionOf(ctx), ctx.ip);
  const id = (ctx: Context) => ctx.params.id as string;
  const body = (ctx: Context) => ctx.request.body ?? {};

  router.post('/api/conversations', session, async (ctx) => {
    ctx.status = 201;
    ctx.body = await conversations.start(who(ctx));
  });
  router.get('/api/conversations/:id', session, async (ctx) => {
    ctx.body = await conversations.view(who(ctx), id(ctx));
  });
  router.post('/api/conversations/:id/operators', session, async (ctx) => {
    const { operatorIds } = parseInput(withoutConversation.bind, body(ctx), 'operators');
    ctx.body = await conversations.bind(who(ctx), id(ctx), operatorIds);
  });
  router.post('/api/conversations/:id/operators/unbind', session, async (ctx) => {
    const { operatorIds } = parseInput(withoutConversation.bind, body(ctx), 'operators');
    ctx.body = await conversations.unbind(who(ctx), id(ctx), operatorIds);
  });
  router.post('/api/conversations/:id/messages', session, async (ctx) => {
    const { text } = parseInput(withoutConversation.message, body(ctx), 'message');
    await conversations.send(who(ctx), id(ctx), text);
    ctx.body = await conversations.settled(who(ctx), id(ctx));
  });
  router.post('/api/conversations/:id/commands', session, async (ctx) => {
    const input = parseInput(withoutConversation.run, body(ctx), 'command');
    await conversations.runTyped(who(ctx), id(ctx), input.operatorIds, input.command);
    ctx.body = await conversations.settled(who(ctx), id(ctx));
  });
  router.post('/api/conversations/:id/stop', session, async (ctx) => {
    ctx.body = await conversations.stop(who(ctx), id(ctx));
  });
  router.post('/api/conversations/:id/end', session, async (ctx) => {
    ctx.body = await conversations.end(who(ctx), id(ctx));
  });
  router.get('/api/conversations/:id/proposals', session, async (ctx) => {
    const conversation = await conversations.view(who(ctx), id(ctx));
    ctx.body = { proposals: await approvals.list(conversation.org, conversation.id) };
  });
  router.get('/api/proposals/:id', session, async (ctx) => {
    ctx.body = await approvals.view(id(ctx), who(ctx).org);
  });
  router.post('/api/proposals/:id/approve', session, async (ctx) => {
    const choice = parseInput(approve, body(ctx), 'approval');
    ctx.body = await approvals.approve(who(ctx), id(ctx), choice);
  });
  router.post('/api/proposals/:id/deny', session, async (ctx) => {
    const { reason } = parseInput(deny, body(ctx), 'denial');
    ctx.body = await approvals.deny(who(ctx), id(ctx), reason);
  });
  return router;
}
