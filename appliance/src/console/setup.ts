import type Router from '@koa/router';
import type { Logger } from 'pino';
import type { Server } from 'socket.io';
import { approvalAdminRoutes } from '../approvals/admin-routes.ts';
import { ApprovalService } from '../approvals/approval-service.ts';
import { ApprovalPolicies } from '../approvals/policy.ts';
import { ProposalStore } from '../approvals/proposal-store.ts';
import { AuditLog } from '../audit/log.ts';
import type { BatchService } from '../batches/service.ts';
import type { ApplianceConfig } from '../config.ts';
import { ConversationService } from '../conversations/service.ts';
import { ConversationStore } from '../conversations/store.ts';
import { ToolRunner } from '../conversations/tool-runner.ts';
import type { Sql } from '../db/database.ts';
import type { ExecutionService } from '../executions/service.ts';
import type { Jobs } from '../jobs/setup.ts';
import type { ChatModel } from '../llm/model.ts';
import { selectChatModel } from '../llm/select.ts';
import type { SlotStore } from '../operators/slots.ts';
import type { OperatorHub } from '../relay/operator-hub.ts';
import type { SessionGuard } from '../sessions/guard.ts';
import { mountConsoleNamespace } from './namespace.ts';
import { consoleRoutes } from './routes.ts';

export interface ConsoleApi {
  conversations: ConversationService;
  approvals: ApprovalService;
  model: ChatModel;
  /** The REST routes (session and admin) to mount after the body parser. */
  routes: ReturnType<Router['routes']>[];
  close(): Promise<void>;
}

/**
 * Conversations and approvals, wired: the model the configuration picks, the tool runner over the relay, the
 * approval service over the batch runner, the expiry sweep on the clean-up job, the /console namespace and
 * the REST routes.
 */
export async function startConsoleApi(deps: {
  config: ApplianceConfig;
  sql: Sql;
  io: Server;
  guard: SessionGuard;
  slots: SlotStore;
  hub: OperatorHub;
  executions: ExecutionService;
  batches: BatchService;
  jobs: Jobs;
  adminToken: string;
  /** With replicas, another relay may hold a conversation that looks orphaned from here. */
  clustered: boolean;
  log: Logger;
}): Promise<ConsoleApi> {
  const log = deps.log.child({ component: 'console' });
  const model = await selectChatModel(deps.config);
  const policies = new ApprovalPolicies(deps.sql);
  const audit = new AuditLog(deps.sql);
  const approvals = new ApprovalService({
    proposals: new ProposalStore(deps.sql),
    policies,
    audit,
    batches: deps.batches,
    log,
    ttlSeconds: deps.config.proposalTtlSeconds,
  });
  const store = new ConversationStore(deps.sql);
  const conversations = new ConversationService({
    sql: deps.sql,
    store,
    runner: new ToolRunner({
      conversations: store,
      executions: deps.executions,
      hub: deps.hub,
      approvals,
      batches: deps.batches,
      log,
    }),
    approvals,
    batches: deps.batches,
    executions: deps.executions,
    audit,
    model,
    log,
  });
  if (!deps.clustered) {
    const ended = await conversations.endOrphans();
    if (ended)
      log.info({ ended }, 'ended the conversations the previous run left open; their operators are free');
  }
  deps.jobs.cleanup.register('proposal-expiry', () => approvals.expireDue());
  const unmount = mountConsoleNamespace(deps.io, { guard: deps.guard, conversations, approvals, log });
  log.info({ model: model.info }, 'console ready');
  return {
    conversations,
    approvals,
    model,
    routes: [
      consoleRoutes({ guard: deps.guard, conversations, approvals }).routes(),
      approvalAdminRoutes({ adminToken: deps.adminToken, slots: deps.slots, policies }).routes(),
    ],
    async close() {
      unmount();
      await conversations.close();
    },
  };
}
