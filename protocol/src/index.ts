// Wire schemas shared by the relay, the operator and the console.
// Every message that crosses the link is parsed with one of these before it is trusted.
import { z } from 'zod';
import { Slug } from './slots.ts';
import { Freshness, WireError } from './wire.ts';

/** How far a request's timestamp may be from the receiver's clock before it is refused as a replay. */
export const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;
/** The largest Socket.IO frame either side accepts; anything bigger closes the connection. */
export const MAX_FRAME_BYTES = 256 * 1024;
/** Engine.IO heartbeat: the relay pings every 30 s and drops an operator silent for longer than that plus the timeout. */
export const HEARTBEAT_INTERVAL_MS = 30_000;
export const HEARTBEAT_TIMEOUT_MS = 20_000;
export const OPERATOR_NAMESPACE = '/operator';

export { ErrorCode, Freshness, WireError } from './wire.ts';
export * from './execution.ts';
export * from './approval.ts';
export * from './draining.ts';
export * from './batch.ts';
export * from './session.ts';
export * from './console.ts';
export * from './panel.ts';
export { OperatorSlot, Slug } from './slots.ts';

const pem = (label: string, max: number) =>
  z
    .string()
    .max(max)
    .refine((s) => s.includes(`-----BEGIN ${label}-----`), `expected a PEM ${label}`);

export const Fingerprint = z
  .string()
  .regex(/^[0-9a-f]{64}$/, 'a host fingerprint is 64 lowercase hex digits');

export const EnrollRequest = Freshness.extend({
  apiKey: z.string().min(1).max(200),
  csr: pem('CERTIFICATE REQUEST', 16 * 1024),
  fingerprint: Fingerprint,
});
export type EnrollRequest = z.infer<typeof EnrollRequest>;

export const IssuedCertificate = z.object({
  operatorId: z.string(),
  org: z.string(),
  name: z.string(),
  certificate: z.string(),
  /** Issuing CA then root, so the operator can present and check the full chain. */
  chain: z.array(z.string()),
  notAfter: z.string(),
  /** The appliance's approval public key (SPKI PEM, Ed25519); the operator pins it at enrollment. */
  approvalKey: pem('PUBLIC KEY', 1024),
});
export type IssuedCertificate = z.infer<typeof IssuedCertificate>;

export const RenewRequest = Freshness.extend({ csr: pem('CERTIFICATE REQUEST', 16 * 1024) });
export type RenewRequest = z.infer<typeof RenewRequest>;

export const HostFacts = z.object({
  hostname: z.string(),
  platform: z.string(),
  release: z.string(),
  arch: z.string(),
  cpus: z.number().int(),
  totalMemoryBytes: z.number(),
  uptimeSeconds: z.number(),
  operatorVersion: z.string(),
  nodeVersion: z.string(),
});
export type HostFacts = z.infer<typeof HostFacts>;

/** Every acknowledgement is either a result or a WireError, never a thrown exception. */
export const ackOf = <T extends z.ZodTypeAny>(result: T) =>
  z.union([z.object({ ok: z.literal(true), result }), z.object({ ok: z.literal(false), error: WireError })]);

export const OperatorEvents = {
  /**
   * relay → operator: a RelayRequest, acknowledged with ackOf(HostFacts) for facts, ackOf(ExecAccepted) for
   * exec, ackOf(History) for history and ackOf(ExecutionId) for cancel.
   */
  request: 'relay:request',
  /** operator → relay: a ModelOutput, sent just before the ExecResult of the same execution. */
  modelOutput: 'operator:model-output',
  /** operator → relay: an ExecResult when a run ends; acknowledged with `{ ok: true }` once the relay holds it. */
  result: 'operator:result',
  /** relay → operator: finish and exit; sent by `operator stop`. */
  stop: 'relay:stop',
  /** relay → operator: a RelayDraining; this replica shuts down, reconnect elsewhere (not a stop). */
  draining: 'relay:draining',
  /** operator → relay: a RenewRequest, acknowledged with ackOf(IssuedCertificate). */
  renew: 'operator:renew',
} as const;

export const CreateOperatorRequest = z.object({ org: Slug, name: Slug });
export type CreateOperatorRequest = z.infer<typeof CreateOperatorRequest>;

export { freshNonce } from './nonce.ts';
