import { randomUUID, X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import {
  ackOf,
  ExecResult,
  freshNonce,
  HostFacts,
  ModelOutput,
  IssuedCertificate,
  OPERATOR_NAMESPACE,
  OperatorEvents,
  RenewRequest,
  type ErrorCode,
  type WireError,
} from '@dropops/protocol';
import {
  normaliseSerial,
  operatorIdentityOf,
  readRevocations,
  type CertificateAuthority,
} from '@dropops/pki';
import type { Logger } from 'pino';
import type { Namespace, Server, Socket } from 'socket.io';
import type { z } from 'zod';
import { RelayError } from '../errors.ts';
import type { ExecutionStore } from '../executions/store.ts';
import { linkLost, type ExecutionTracker } from '../executions/tracker.ts';
import type { OperatorCertificates } from '../operators/certificates.ts';
import type { SlotStore } from '../operators/slots.ts';
import { LinkWatch } from '../replicas/link-watch.ts';
import { OutcomeRelay } from '../replicas/outcomes.ts';
import type { ReplayGuard } from '../security/replay.ts';
import { parseInput } from '../validation.ts';

interface OperatorSession {
  slotId: string;
  org: string;
  serial: string;
  fingerprint: string;
}

interface Deps {
  ca: CertificateAuthority;
  slots: SlotStore;
  certificates: OperatorCertificates;
  replay: ReplayGuard;
  executions: ExecutionStore;
  tracker: ExecutionTracker;
  log: Logger;
  requestTimeoutMs: number;
  /** Other replicas share this namespace through the Redis adapter; without it everything is in-process. */
  clustered: boolean;
}

/** The parts of a RelayRequest the caller chooses; the hub adds the id and the freshness fields. */
export type RequestBody = { kind: string } & Record<string, unknown>;

function refusal(code: ErrorCode, message: string): Error & { data: WireError } {
  return Object.assign(new Error(message), { data: { code, message } });
}

const RESULT_ACK = { ok: true } as const;
/** Model output waits on its connection for the result that follows it; a few at most, in memory only. */
const MAX_HELD_OUTPUTS = 16;

/** Every connection of one operator joins its room, whichever replica holds it. */
const slotRoom = (slotId: string) => `operator:${slotId}`;

const offline = () =>
  new RelayError(
    'OPERATOR_OFFLINE',
    'that operator is not connected; start it with `dropops-operator run` on its host.',
  );

/**
 * The `/operator` namespace: only operators holding a live, unrevoked certificate from the issuing CA,
 * for a slot whose key is active and whose host binding matches, get past the handshake.
 */
export class OperatorHub {
  /** The operators connected to this replica; others may be connected elsewhere. */
  private readonly live = new Map<string, Socket>();
  private readonly namespace: Namespace;
  private readonly outcomes: OutcomeRelay;
  private readonly linkWatch: LinkWatch | null;
  private closed = false;
  private readonly issuing: X509Certificate;
  /** The CA's revocation list, held in memory and reloaded whenever the file changes. */
  private revoked: Set<string>;

  constructor(
    io: Server,
    private readonly deps: Deps,
  ) {
    this.issuing = new X509Certificate(deps.ca.issuingCertPem);
    this.revoked = new Set(Object.keys(readRevocations(deps.ca.dir)));
    this.namespace = io.of(OPERATOR_NAMESPACE);
    this.namespace.use((socket, next) => {
      this.authenticate(socket).then(
        (session) => {
          socket.data = session;
          next();
        },
        (err: unknown) => {
          const wire =
            err instanceof RelayError
              ? err.toWire()
              : {
                  code: 'INTERNAL' as const,
                  message: 'the relay failed to check this connection; retry later.',
                };
          deps.log.warn(
            {
              code: wire.code,
              remote: socket.handshake.address,
              err: err instanceof RelayError ? undefined : err,
            },
            `operator refused: ${wire.message}`,
          );
          next(refusal(wire.code, wire.message));
        },
      );
    });
    this.namespace.on('connection', (socket) => this.accept(socket));
    this.outcomes = new OutcomeRelay(this.namespace, deps.tracker, deps.clustered, deps.log);
    this.linkWatch = deps.clustered
      ? new LinkWatch({
          tracker: deps.tracker,
          liveLinks: (links) => this.liveLinks(links),
          recordedResults: (ids, settledForMs) => deps.executions.recordedResults(ids, settledForMs),
          log: deps.log,
        })
      : null;
    this.linkWatch?.start();
  }

  private async authenticate(socket: Socket): Promise<OperatorSession> {
    const tls = socket.request.socket as TLSSocket;
    const cert = typeof tls.getPeerX509Certificate === 'function' ? tls.getPeerX509Certificate() : undefined;
    if (!cert || !tls.authorized) {
      throw new RelayError(
        'CLIENT_CERT_REQUIRED',
        'the operator namespace needs a client certificate from this appliance; enroll first with `dropops-operator enroll`.',
      );
    }
    const identity = operatorIdentityOf(cert);
    if (!identity || identity.trustDomain !== this.deps.ca.trustDomain || !cert.checkIssued(this.issuing)) {
      throw new RelayError(
        'CERT_UNKNOWN_OPERATOR',
        'the client certificate is not an operator certificate of this appliance; enroll again.',
      );
    }
    const serial = normaliseSerial(cert.serialNumber);
    const record = await this.deps.slots.certificate(serial);
    if (record?.revoked_at || this.revoked.has(serial)) {
      throw new RelayError(
        'CERT_REVOKED',
        'this operator certificate has been revoked; ask an admin for a new key and enroll again.',
      );
    }
    if (
      !record ||
      record.operator_id !== identity.operatorId ||
      record.fingerprint !== identity.fingerprint
    ) {
      throw new RelayError(
        'CERT_UNKNOWN_OPERATOR',
        'the relay has no record of this certificate; enroll again.',
      );
    }
    const slot = await this.deps.slots.get(identity.operatorId);
    if (!slot)
      throw new RelayError(
        'OPERATOR_NOT_FOUND',
        'this operator slot no longer exists; ask an admin to create one.',
      );
    if (!slot.api_key_hash)
      throw new RelayError(
        'API_KEY_REVOKED',
        `the key of operator "${slot.name}" was revoked; ask an admin for refresh-key.`,
      );
    if (slot.fingerprint !== identity.fingerprint) {
      throw new RelayError(
        'FINGERPRINT_MISMATCH',
        `operator "${slot.name}" is registered to another host; re-register it with refresh-key.`,
      );
    }
    return { slotId: slot.id, org: slot.org, serial, fingerprint: identity.fingerprint };
  }

  private accept(socket: Socket): void {
    const session = socket.data as OperatorSession;
    void socket.join(slotRoom(session.slotId));
    // A new connection for a slot replaces its previous one, on whichever replica holds that.
    this.namespace.in(slotRoom(session.slotId)).except(socket.id).disconnectSockets(true);
    this.live.set(session.slotId, socket);
    const heldOutputs = new Map<string, ModelOutput>();
    this.deps.log.info({ operatorId: session.slotId, serial: session.serial }, 'operator connected');
    void this.deps.slots.touch(session.slotId).catch(() => {});
    socket.conn.on('packet', (packet: { type: string }) => {
      if (packet.type === 'pong') void this.deps.slots.touch(session.slotId).catch(() => {});
    });
    socket.on(OperatorEvents.renew, (payload: unknown, ack: unknown) => {
      if (typeof ack !== 'function') return;
      this.renew(session, payload).then(
        (result) => ack({ ok: true, result }),
        (err: unknown) => ack({ ok: false, error: this.toWire(err, session) }),
      );
    });
    socket.on(OperatorEvents.modelOutput, (payload: unknown) => {
      const output = ModelOutput.safeParse(payload);
      if (!output.success) {
        this.deps.log.warn({ operatorId: session.slotId }, 'dropped malformed model output');
        return;
      }
      heldOutputs.set(output.data.executionId, output.data);
      if (heldOutputs.size > MAX_HELD_OUTPUTS) heldOutputs.delete(heldOutputs.keys().next().value!);
    });
    socket.on(OperatorEvents.result, (payload: unknown, ack: unknown) => {
      this.recordResult(session, payload, heldOutputs).then(
        () => typeof ack === 'function' && ack(RESULT_ACK),
        (err: unknown) => typeof ack === 'function' && ack({ ok: false, error: this.toWire(err, session) }),
      );
    });
    socket.on('disconnect', (reason) => {
      if (this.live.get(session.slotId) === socket) this.live.delete(session.slotId);
      heldOutputs.clear();
      // Runs sent over this connection, from any replica, fail here or at the other replicas' next link check.
      this.deps.tracker.failLink(socket.id, linkLost());
      this.deps.log.info({ operatorId: session.slotId, reason }, 'operator disconnected');
    });
  }

  private toWire(err: unknown, session: OperatorSession): WireError {
    if (err instanceof RelayError) {
      this.deps.log.warn({ operatorId: session.slotId, code: err.code }, err.message);
      return err.toWire();
    }
    this.deps.log.error({ operatorId: session.slotId, err }, 'operator request failed');
    return { code: 'INTERNAL', message: 'the relay failed to handle the request; retry later.' };
  }

  /** Renewal re-checks everything the handshake checked: a revoked certificate cannot renew itself. */
  private async renew(session: OperatorSession, payload: unknown): Promise<IssuedCertificate> {
    const request = parseInput(RenewRequest, payload, 'renewal request');
    await this.deps.replay.check(request);
    const record = await this.deps.slots.certificate(session.serial);
    const slot = await this.deps.slots.get(session.slotId);
    if (!record || record.revoked_at || this.revoked.has(session.serial) || !slot?.api_key_hash) {
      throw new RelayError(
        'CERT_REVOKED',
        'this operator certificate has been revoked; it cannot be renewed.',
      );
    }
    if (slot.fingerprint !== session.fingerprint) {
      throw new RelayError('FINGERPRINT_MISMATCH', 'the slot is no longer bound to this host; enroll again.');
    }
    return IssuedCertificate.parse(
      await this.deps.certificates.issue(slot, request.csr, session.fingerprint),
    );
  }

  /** Whether the operator is connected to this replica (see `connectedSlots` for all replicas). */
  isConnected(slotId: string): boolean {
    return this.live.has(slotId);
  }

  /** A query of the other replicas; one that does not answer in time makes it fail. */
  private async acrossReplicas<T>(query: () => Promise<T>): Promise<T> {
    try {
      return await query();
    } catch {
      throw new RelayError(
        'REPLICAS_UNREACHABLE',
        'the other relay replicas did not answer in time; check that Redis and every replica are up, then retry.',
      );
    }
  }

  /** Which of these slots (all, without a list) have an operator connected to any replica. */
  async connectedSlots(slotIds?: string[]): Promise<Set<string>> {
    if (!this.deps.clustered || slotIds?.length === 0) return new Set(this.live.keys());
    const scope = slotIds ? this.namespace.in(slotIds.map(slotRoom)) : this.namespace;
    const sockets = await this.acrossReplicas(() => scope.fetchSockets());
    return new Set(sockets.map((s) => (s.data as OperatorSession).slotId));
  }

  /** The ones among these connections (socket ids) that a live replica holds. */
  private async liveLinks(links: string[]): Promise<Set<string>> {
    return new Set((await this.namespace.in(links).fetchSockets()).map((s) => s.id));
  }

  /** The connection an operator holds, on this replica or on another one. */
  async locate(slotId: string): Promise<string> {
    const local = this.live.get(slotId);
    if (local) return local.id;
    if (this.deps.clustered) {
      const [remote] = await this.acrossReplicas(() => this.namespace.in(slotRoom(slotId)).fetchSockets());
      if (remote) return remote.id;
    }
    throw offline();
  }

  /**
   * The operator's result is metadata only; it settles a run only if that run was sent to this operator. Its
   * model output came just before it on the same connection; it goes to the waiting caller, wherever it waits.
   */
  private async recordResult(
    session: OperatorSession,
    payload: unknown,
    heldOutputs: Map<string, ModelOutput>,
  ): Promise<void> {
    const result = parseInput(ExecResult, payload, 'execution result');
    const modelOutput = heldOutputs.get(result.executionId) ?? null;
    heldOutputs.delete(result.executionId);
    const modelBytes = modelOutput ? Buffer.byteLength(modelOutput.text, 'utf8') : null;
    if (!(await this.deps.executions.finished(session.slotId, result, modelBytes))) {
      throw new RelayError(
        'EXECUTION_NOT_FOUND',
        `no run ${result.executionId} of this operator is waiting for a result.`,
      );
    }
    void this.outcomes.deliver({ operatorId: session.slotId, result, modelOutput });
  }

  /**
   * relay → operator → relay: one request and its acknowledgement, parsed with the schema of its answer.
   * A refusal by the operator comes back as a RelayError carrying the operator's own code.
   */
  async ask<T extends z.ZodTypeAny>(slotId: string, body: RequestBody, answer: T): Promise<z.infer<T>> {
    return this.askOver(await this.locate(slotId), body, answer);
  }

  /** `ask` over one known connection (from `locate`), held by this replica or, through Redis, by another. */
  async askOver<T extends z.ZodTypeAny>(link: string, body: RequestBody, answer: T): Promise<z.infer<T>> {
    const request = { ...body, id: randomUUID(), ...freshNonce() };
    const timeoutMs = this.deps.requestTimeoutMs;
    const local = this.namespace.sockets.get(link);
    let replies: unknown[];
    try {
      replies = local
        ? [await local.timeout(timeoutMs).emitWithAck(OperatorEvents.request, request)]
        : await this.namespace.to(link).timeout(timeoutMs).emitWithAck(OperatorEvents.request, request);
    } catch {
      throw new RelayError(
        'OPERATOR_TIMEOUT',
        `the operator did not answer within ${timeoutMs} ms; check its host and network.`,
      );
    }
    // No replica holds that connection any more.
    if (replies.length === 0) throw offline();
    const reply = replies[0];
    const ack = ackOf(answer).safeParse(reply);
    if (!ack.success)
      throw new RelayError('INTERNAL', 'the operator sent a malformed answer; check its version.');
    const data = ack.data as { ok: true; result: z.infer<T> } | { ok: false; error: WireError };
    if (!data.ok) throw new RelayError(data.error.code, `the operator refused: ${data.error.message}`);
    return data.result;
  }

  /** relay → operator → relay: asks the live operator for its host facts. */
  facts(slotId: string): Promise<HostFacts> {
    return this.ask(slotId, { kind: 'facts' }, HostFacts);
  }

  /** Asks the operator to finish and exit, wherever it is connected. */
  async stop(slotId: string): Promise<void> {
    const link = await this.locate(slotId);
    this.namespace.to(link).emit(OperatorEvents.stop, { reason: 'stopped by an admin' });
    // The operator closes the link itself; cut it if it does not.
    setTimeout(() => this.closed || this.namespace.in(link).disconnectSockets(true), 5_000).unref();
  }

  /** Cuts an operator off at once, for revocations. */
  disconnect(slotId: string, reason: string): boolean {
    const socket = this.live.get(slotId);
    if (!socket) return false;
    this.deps.log.warn({ operatorId: slotId }, `disconnecting operator: ${reason}`);
    socket.disconnect(true);
    return true;
  }

  /**
   * Rereads the CA's revocation list, adds serials revoked elsewhere (another replica's list), and cuts
   * off every live operator whose certificate is now revoked.
   */
  applyRevocations(serials: string[] = []): void {
    this.revoked = new Set([
      ...Object.keys(readRevocations(this.deps.ca.dir)),
      ...serials.map(normaliseSerial),
    ]);
    for (const [slotId, socket] of this.live) {
      if (this.revoked.has((socket.data as OperatorSession).serial))
        this.disconnect(slotId, 'certificate revoked');
    }
  }

  /** Operators connected to this replica. */
  connectedCount(): number {
    return this.live.size;
  }

  /** Stops the link checks; call before closing the Socket.IO server. */
  close(): void {
    this.closed = true;
    this.linkWatch?.stop();
  }
}
