import { randomUUID } from 'node:crypto';
import type { ConsoleClientEvent, DropOpsRole } from '@dropops/protocol';
import { OperatorEvents } from '@dropops/protocol';

/** The ids a route or event is filled with: one organisation's real objects, or fresh ones nobody has. */
export interface Ids {
  operator: string;
  conversation: string;
  proposal: string;
  batch: string;
}

export const missingIds = (): Ids => ({
  operator: randomUUID(),
  conversation: randomUUID(),
  proposal: randomUUID(),
  batch: randomUUID(),
});

/**
 * Who may use a route, as docs/ARCHITECTURE.md §3, §6f and §6g say:
 * - `public`: anyone; it answers no organisation's data (probes, the start of sign-in).
 * - `sign-in`: the OIDC flow's own steps, guarded by its state, cookies and Origin rather than a session.
 * - `api-key`: enrollment, authenticated by the operator slot's one-time API key in the body.
 * - `metrics-token` / `admin-token`: a Bearer token from the data dir; sessions do not count.
 * - `session`: a console session of any role, or of one of `roles`; ids are looked up in the session's org.
 */
export type Access =
  | { kind: 'public' | 'sign-in' | 'api-key' | 'metrics-token' | 'admin-token' }
  | { kind: 'session'; roles?: DropOpsRole[]; notFound?: string; endsSession?: boolean };

export interface RouteRule {
  access: Access;
  /** The concrete path for these ids (routes without parameters ignore them). */
  path: (ids: Ids) => string;
  body?: (ids: Ids) => unknown;
}

const session = (notFound?: string, roles?: DropOpsRole[]): Access => ({ kind: 'session', notFound, roles });
const admin: Access = { kind: 'admin-token' };
const approvers: DropOpsRole[] = ['approver', 'admin'];
const conversation =
  (tail = '') =>
  (ids: Ids) =>
    `/api/conversations/${ids.conversation}${tail}`;
const orgOperator = (tail: string) => (ids: Ids) => `/api/org/operators/${ids.operator}${tail}`;
const adminOperator = (tail: string) => (ids: Ids) => `/api/operators/${ids.operator}${tail}`;
const fixed = (path: string) => () => path;
const operators = (ids: Ids) => ({ operatorIds: [ids.operator] });
let users = 0;

/**
 * Every HTTP route the relay serves, keyed `METHOD path` exactly as its routers declare them. The test fails
 * for a served route missing here, and for an entry here that no router serves any more.
 */
export const ROUTES: Record<string, RouteRule> = {
  'GET /healthz': { access: { kind: 'public' }, path: fixed('/healthz') },
  'GET /livez': { access: { kind: 'public' }, path: fixed('/livez') },
  'GET /readyz': { access: { kind: 'public' }, path: fixed('/readyz') },
  'GET /metrics': { access: { kind: 'metrics-token' }, path: fixed('/metrics') },
  'POST /api/enroll': { access: { kind: 'api-key' }, path: fixed('/api/enroll'), body: () => ({}) },

  'GET /auth/login': { access: { kind: 'public' }, path: fixed('/auth/login') },
  'GET /auth/callback': {
    access: { kind: 'sign-in' },
    path: fixed('/auth/callback?state=forged&code=forged'),
  },
  'POST /auth/logout': {
    access: { kind: 'session', endsSession: true },
    path: fixed('/auth/logout'),
    body: () => ({}),
  },
  'GET /api/session': { access: session(), path: fixed('/api/session') },
  'GET /oidc/interaction/:uid': { access: { kind: 'sign-in' }, path: fixed('/oidc/interaction/forged') },
  'POST /oidc/interaction/:uid/login': {
    access: { kind: 'sign-in' },
    path: fixed('/oidc/interaction/forged/login'),
  },
  'POST /oidc/interaction/:uid/password': {
    access: { kind: 'sign-in' },
    path: fixed('/oidc/interaction/forged/password'),
  },
  // The embedded provider's own endpoints (discovery, authorization, token, userinfo, end session).
  '* /oidc/*': { access: { kind: 'sign-in' }, path: fixed('/oidc/me') },

  // The console's conversations and approvals (§6g).
  'POST /api/conversations': { access: session(), path: fixed('/api/conversations'), body: () => ({}) },
  'GET /api/conversations/:id': { access: session('CONVERSATION_NOT_FOUND'), path: conversation() },
  'POST /api/conversations/:id/operators': {
    access: session('CONVERSATION_NOT_FOUND'),
    path: conversation('/operators'),
    body: operators,
  },
  'POST /api/conversations/:id/operators/unbind': {
    access: session('CONVERSATION_NOT_FOUND'),
    path: conversation('/operators/unbind'),
    body: operators,
  },
  'POST /api/conversations/:id/messages': {
    access: session('CONVERSATION_NOT_FOUND'),
    path: conversation('/messages'),
    body: () => ({ text: 'hello' }),
  },
  'POST /api/conversations/:id/commands': {
    access: session('CONVERSATION_NOT_FOUND'),
    path: conversation('/commands'),
    body: (ids) => ({ ...operators(ids), command: 'touch matrix.flag' }),
  },
  'POST /api/conversations/:id/stop': {
    access: session('CONVERSATION_NOT_FOUND'),
    path: conversation('/stop'),
    body: () => ({}),
  },
  'POST /api/conversations/:id/end': {
    access: session('CONVERSATION_NOT_FOUND'),
    path: conversation('/end'),
    body: () => ({}),
  },
  'GET /api/conversations/:id/proposals': {
    access: session('CONVERSATION_NOT_FOUND'),
    path: conversation('/proposals'),
  },
  'GET /api/proposals/:id': {
    access: session('PROPOSAL_NOT_FOUND'),
    path: (ids) => `/api/proposals/${ids.proposal}`,
  },
  'POST /api/proposals/:id/approve': {
    access: session('PROPOSAL_NOT_FOUND', approvers),
    path: (ids) => `/api/proposals/${ids.proposal}/approve`,
    body: () => ({}),
  },
  'POST /api/proposals/:id/deny': {
    access: session('PROPOSAL_NOT_FOUND', approvers),
    path: (ids) => `/api/proposals/${ids.proposal}/deny`,
    body: () => ({}),
  },

  // The operator panel, the audit view and local accounts (/api/org/...).
  'GET /api/org/operators': { access: session(), path: fixed('/api/org/operators') },
  'POST /api/org/operators': {
    access: session(undefined, ['admin']),
    path: fixed('/api/org/operators'),
    body: () => ({ name: `matrix-${++users}` }),
  },
  'POST /api/org/operators/:id/refresh-key': {
    access: session('OPERATOR_NOT_FOUND', ['admin']),
    path: orgOperator('/refresh-key'),
    body: () => ({}),
  },
  'POST /api/org/operators/:id/revoke-key': {
    access: session('OPERATOR_NOT_FOUND', ['admin']),
    path: orgOperator('/revoke-key'),
    body: () => ({}),
  },
  'POST /api/org/operators/:id/stop': {
    access: session('OPERATOR_NOT_FOUND', ['admin']),
    path: orgOperator('/stop'),
    body: () => ({}),
  },
  'POST /api/org/operators/:id/history': {
    access: session('OPERATOR_NOT_FOUND'),
    path: orgOperator('/history'),
    body: () => ({}),
  },
  'GET /api/org/audit': { access: session(), path: fixed('/api/org/audit') },
  'GET /api/org/audit/export': { access: session(), path: fixed('/api/org/audit/export') },
  'POST /api/org/users': {
    access: session(undefined, ['admin']),
    path: fixed('/api/org/users'),
    body: () => ({ username: `matrix-user-${++users}`, roles: ['viewer'] }),
  },

  // The admin CLI's routes (the admin token; §3).
  'GET /api/operators': { access: admin, path: fixed('/api/operators') },
  'POST /api/operators': {
    access: admin,
    path: fixed('/api/operators'),
    body: () => ({ org: 'beta', name: `admin-matrix-${++users}` }),
  },
  'POST /api/operators/:ref/refresh-key': {
    access: admin,
    path: adminOperator('/refresh-key'),
    body: () => ({}),
  },
  'POST /api/operators/:ref/revoke-key': {
    access: admin,
    path: adminOperator('/revoke-key'),
    body: () => ({}),
  },
  'POST /api/operators/:ref/stop': { access: admin, path: adminOperator('/stop'), body: () => ({}) },
  'POST /api/operators/:ref/ping': { access: admin, path: adminOperator('/ping'), body: () => ({}) },
  'POST /api/operators/:ref/exec': {
    access: admin,
    path: adminOperator('/exec'),
    body: () => ({ command: 'touch admin.flag', approve: true }),
  },
  'POST /api/operators/:ref/write': {
    access: admin,
    path: adminOperator('/write'),
    body: () => ({ path: '/tmp/dropops-matrix.txt', content: 'aGk=', approve: true }),
  },
  'POST /api/operators/:ref/restore': {
    access: admin,
    path: adminOperator('/restore'),
    body: () => ({ path: '/tmp/dropops-matrix.txt', commit: '0'.repeat(40), approve: true }),
  },
  'POST /api/operators/:ref/history': { access: admin, path: adminOperator('/history'), body: () => ({}) },
  'GET /api/operators/:ref/executions': { access: admin, path: adminOperator('/executions') },
  'POST /api/operators/:ref/tags': {
    access: admin,
    path: adminOperator('/tags'),
    body: () => ({ tags: ['production'] }),
  },
  'POST /api/batches': {
    access: admin,
    path: fixed('/api/batches'),
    body: (ids) => ({ operators: [ids.operator], command: 'touch admin.flag' }),
  },
  'GET /api/batches/:id': { access: admin, path: (ids) => `/api/batches/${ids.batch}` },
  'POST /api/batches/:id/cancel': {
    access: admin,
    path: (ids) => `/api/batches/${ids.batch}/cancel`,
    body: () => ({}),
  },
  'POST /api/executions/:id/cancel': {
    access: admin,
    path: (ids) => `/api/executions/${ids.batch}/cancel`,
    body: () => ({}),
  },
  'POST /api/certificates/:serial/revoke': {
    access: admin,
    path: fixed('/api/certificates/0a1b2c/revoke'),
    body: () => ({}),
  },
  'GET /api/approval-policies': { access: admin, path: fixed('/api/approval-policies') },
  'POST /api/approval-policies': {
    access: admin,
    path: fixed('/api/approval-policies'),
    body: () => ({ org: 'default', tag: 'production', requiredApprovals: 2, requireReason: true }),
  },
  'POST /api/approval-policies/remove': {
    access: admin,
    path: fixed('/api/approval-policies/remove'),
    body: () => ({ org: 'default', tag: 'production' }),
  },
};

export interface EventRule {
  payload: (ids: Ids) => unknown;
  roles?: DropOpsRole[];
  /** The code another organisation's ids get, exactly as a nonexistent id does; none for id-less events. */
  notFound?: string;
}

/** Every client event of the /console namespace (ConsoleClientEvents), with the ids it carries. */
export const CONSOLE_EVENTS: Record<ConsoleClientEvent, EventRule> = {
  'conversation:start': { payload: () => ({}) },
  'conversation:join': {
    payload: (ids) => ({ conversationId: ids.conversation }),
    notFound: 'CONVERSATION_NOT_FOUND',
  },
  // Leaving a room one never joined is harmless and answers the same for any id.
  'conversation:leave': { payload: (ids) => ({ conversationId: ids.conversation }) },
  'conversation:bind': {
    payload: (ids) => ({ conversationId: ids.conversation, ...operators(ids) }),
    notFound: 'CONVERSATION_NOT_FOUND',
  },
  'conversation:unbind': {
    payload: (ids) => ({ conversationId: ids.conversation, ...operators(ids) }),
    notFound: 'CONVERSATION_NOT_FOUND',
  },
  'conversation:message': {
    payload: (ids) => ({ conversationId: ids.conversation, text: 'hello' }),
    notFound: 'CONVERSATION_NOT_FOUND',
  },
  'conversation:run': {
    payload: (ids) => ({ conversationId: ids.conversation, ...operators(ids), command: 'touch matrix.flag' }),
    notFound: 'CONVERSATION_NOT_FOUND',
  },
  'conversation:stop': {
    payload: (ids) => ({ conversationId: ids.conversation }),
    notFound: 'CONVERSATION_NOT_FOUND',
  },
  'conversation:end': {
    payload: (ids) => ({ conversationId: ids.conversation }),
    notFound: 'CONVERSATION_NOT_FOUND',
  },
  'proposal:approve': {
    payload: (ids) => ({ proposalId: ids.proposal }),
    roles: approvers,
    notFound: 'PROPOSAL_NOT_FOUND',
  },
  'proposal:deny': {
    payload: (ids) => ({ proposalId: ids.proposal }),
    roles: approvers,
    notFound: 'PROPOSAL_NOT_FOUND',
  },
};

/**
 * Every event of the /operator namespace (OperatorEvents): the relay sends the `relay:` ones and handles none
 * of them from a client; the operator's are bound to the slot of its verified certificate, never to an id
 * in the payload.
 */
export const OPERATOR_EVENTS: Record<
  (typeof OperatorEvents)[keyof typeof OperatorEvents],
  'to-operator' | 'from-operator'
> = {
  [OperatorEvents.request]: 'to-operator',
  [OperatorEvents.stop]: 'to-operator',
  [OperatorEvents.draining]: 'to-operator',
  [OperatorEvents.modelOutput]: 'from-operator',
  [OperatorEvents.result]: 'from-operator',
  [OperatorEvents.renew]: 'from-operator',
};
