import { X509Certificate } from 'node:crypto';
import { createCsr, generateKeyPair } from '@dropops/pki';
import {
  ackOf,
  freshNonce,
  IssuedCertificate,
  OPERATOR_NAMESPACE,
  OperatorEvents,
  RelayRequest,
  type ExecResult,
  type ModelOutput,
  type WireError,
} from '@dropops/protocol';
import type { Logger } from 'pino';
import { io, type Socket } from 'socket.io-client';
import { OperatorError } from '../errors.ts';
import { hostFingerprint } from '../identity/fingerprint.ts';
import {
  certificateFingerprint,
  pinApprovalKeyOnRenewal,
  readApprovalKey,
  readEnrollment,
  saveCredentials,
  stateFiles,
  type Credentials,
  type Enrollment,
} from '../identity/state.ts';
import { detectSandbox, startupNotice } from '../exec/index.ts';
import { defaultPolicy, type Policy } from '../policy/index.ts';
import { RequestHandler, type Answer } from '../requests/handler.ts';
import { openVault, type Vault } from '../vault/index.ts';
import { DrainFollower } from './draining.ts';
import { SeenNonces } from './freshness.ts';
import { acquireLock } from './lock.ts';
import { parseRelayUrl, pinnedTlsOptions } from './pinned-tls.ts';

/** Refusals that retrying cannot cure: the operator exits and says what a person must do. */
const FATAL = new Set([
  'CERT_REVOKED',
  'API_KEY_REVOKED',
  'FINGERPRINT_MISMATCH',
  'CERT_UNKNOWN_OPERATOR',
  'OPERATOR_NOT_FOUND',
  'CLIENT_CERT_REQUIRED',
]);

export type RunOutcome = 'stopped' | 'interrupted';

export interface RunOptions {
  dir: string;
  log: Logger;
  signal?: AbortSignal;
  /** Defaults to this host's fingerprint. */
  fingerprint?: string;
  /** Called on every successful (re)connection; tests and the CLI use it. */
  onConnected?: () => void;
  /** The host's own policy (default: the built-in one). */
  policy?: Policy;
  /** Where commands run (default: the directory the operator started in). */
  cwd?: string;
  /**
   * Relay replicas to dial, tried in order (default: the URL enrolled with). Behind a load balancer one URL
   * is enough; without one, list every replica: when one is unreachable the next is tried.
   */
  relays?: string[];
}

const RenewAck = ackOf(IssuedCertificate);
const BACKOFF = { reconnectionDelay: 1_000, reconnectionDelayMax: 30_000, randomizationFactor: 0.5 } as const;

/**
 * Dials the relay and serves it until stopped. Only outbound: the operator opens no port. Reconnects with
 * capped exponential backoff and jitter, renews its certificate at two thirds of its remaining life, and
 * leaves no lock, timer or socket behind when it returns.
 */
export async function runOperator(options: RunOptions): Promise<RunOutcome> {
  const files = stateFiles(options.dir);
  const { enrollment, credentials: initial } = readEnrollment(options.dir);
  const fingerprint = options.fingerprint ?? hostFingerprint();
  if (certificateFingerprint(initial.certPem) !== fingerprint) {
    throw new OperatorError(
      'HOST_CHANGED',
      `${files.dir} was enrolled on another host; enroll this host with its own API key.`,
    );
  }
  const approvalKeyPem = readApprovalKey(options.dir);
  const releaseLock = acquireLock(files.lock);
  let vault: Vault | undefined;
  let handler: RequestHandler | undefined;
  try {
    // A locked or corrupt vault stops the operator here: it never runs anything without its record.
    vault = openVault(files.dir);
    const sandbox = await detectSandbox();
    options.log.info({ sandbox: sandbox.kind }, await startupNotice());
    const session = vault.startSession({ operatorId: enrollment.operatorId, relay: enrollment.relay });
    const link: OperatorLink = new OperatorLink(enrollment, initial, options, (request) =>
      handler!.handle(request),
    );
    handler = new RequestHandler({
      operatorId: enrollment.operatorId,
      stateDir: files.dir,
      cwd: options.cwd ?? process.cwd(),
      vault,
      sessionId: session.id,
      policy: options.policy ?? defaultPolicy,
      approvalKeyPem,
      sandbox,
      log: options.log,
      deliver: (output, result) => link.deliver(output, result),
    });
    return await link.run();
  } finally {
    handler?.cancelAll();
    vault?.close();
    releaseLock();
  }
}

class OperatorLink {
  private socket: Socket | null = null;
  private renewTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly nonces = new SeenNonces();
  private readonly relays: string[];
  /** The relay in `relays` being dialled, and how many dials in a row have failed. */
  private relayIndex = 0;
  private failedDials = 0;
  private finish!: (outcome: RunOutcome | OperatorError) => void;
  /** Results waiting for the link: a run that ends while the relay is away is reported when it comes back. */
  private flushing = false;
  private readonly outbox: { output: ModelOutput; result: ExecResult }[] = [];
  private readonly draining: DrainFollower;

  constructor(
    private readonly enrollment: Enrollment,
    private credentials: Credentials,
    private readonly options: RunOptions,
    private readonly serve: (request: RelayRequest) => Promise<Answer>,
  ) {
    this.relays = options.relays?.length ? options.relays : [enrollment.relay];
    // Every URL is checked before the first dial, so a typo is reported at once.
    for (const relay of this.relays) parseRelayUrl(relay);
    this.draining = new DrainFollower(options.log, (socket, delayMs) => this.redial(socket, delayMs));
  }

  run(): Promise<RunOutcome> {
    return new Promise<RunOutcome>((resolve, reject) => {
      const onAbort = () => this.finish('interrupted');
      this.finish = (outcome) => {
        this.options.signal?.removeEventListener('abort', onAbort);
        this.close();
        if (outcome instanceof OperatorError) reject(outcome);
        else resolve(outcome);
      };
      if (this.options.signal?.aborted) return this.finish('interrupted');
      this.options.signal?.addEventListener('abort', onAbort, { once: true });
      this.checkNotExpired();
      this.open();
      this.scheduleRenewal();
    });
  }

  private get log() {
    return this.options.log;
  }

  private checkNotExpired(): void {
    const notAfter = new Date(new X509Certificate(this.credentials.certPem).validTo);
    if (notAfter.getTime() <= Date.now()) {
      throw new OperatorError(
        'CERT_EXPIRED',
        `the operator certificate expired at ${notAfter.toISOString()}; ask an admin for refresh-key and enroll again.`,
      );
    }
  }

  private open(): void {
    const relay = this.relays[this.relayIndex]!;
    const socket = io(`${relay}${OPERATOR_NAMESPACE}`, {
      transports: ['websocket'],
      ...pinnedTlsOptions(parseRelayUrl(relay), this.credentials.rootPem, this.enrollment.caPin),
      key: this.credentials.keyPem,
      cert: this.credentials.certPem,
      reconnection: true,
      ...BACKOFF,
      timeout: 10_000,
    });
    this.socket = socket;
    socket.on('connect', () => {
      this.failedDials = 0;
      this.draining.connected();
      this.log.info(
        { relay, operator: `${this.enrollment.org}/${this.enrollment.name}` },
        'connected to the relay',
      );
      this.options.onConnected?.();
      this.flush();
    });
    socket.on('connect_error', (err: Error & { data?: WireError }) => {
      const code = err.data?.code;
      if (code && FATAL.has(code)) {
        this.log.error({ code }, `the relay refused this operator: ${err.message}`);
        return this.finish(new OperatorError(code, err.message));
      }
      this.log.warn(
        { code: code ?? 'RELAY_UNREACHABLE', reason: err.message },
        'cannot connect to the relay; retrying with backoff',
      );
      // A refusal by the relay's handshake is not retried by socket.io itself; a transport failure is.
      if (code && !socket.active) this.retryLater(socket);
      else if (!code && this.relays.length > 1) this.dialNextRelay(socket);
    });
    socket.on('disconnect', (reason) => {
      this.log.warn({ reason }, 'disconnected from the relay');
      // The relay cut the link (a revocation, or a newer connection for this slot): reconnect and learn why.
      if (reason === 'io server disconnect') this.retryLater(socket);
    });
    socket.on(OperatorEvents.request, (payload: unknown, ack: unknown) => {
      if (typeof ack !== 'function') return;
      this.handle(payload).then(
        (answer) => ack(answer),
        (err: unknown) => {
          this.log.error({ reason: (err as Error).message }, 'a request failed on this host');
          ack({
            ok: false,
            error: { code: 'INTERNAL', message: 'the operator failed to handle the request; see its log.' },
          });
        },
      );
    });
    socket.on(OperatorEvents.stop, () => {
      this.log.info('the relay asked this operator to stop');
      this.finish('stopped');
    });
    // The relay replica is shutting down: move to another one, unlike a stop.
    socket.on(OperatorEvents.draining, (payload: unknown) => {
      this.draining.noticed(socket, payload);
      this.leaveIfDrained();
    });
  }

  private leaveIfDrained(): void {
    this.draining.leaveIfIdle(this.socket, this.outbox.length === 0 && !this.flushing);
  }

  private retryLater(socket: Socket): void {
    if (this.retryTimer) return;
    const delay = BACKOFF.reconnectionDelay * (1 + Math.random() * BACKOFF.randomizationFactor);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.socket === socket && !socket.connected) socket.connect();
    }, delay);
  }

  /**
   * This relay is unreachable: the next one in the list is dialled, at once while some in this round are
   * untried, then with socket.io's own capped, jittered backoff per round, so a cluster that is all down is
   * not hammered.
   */
  private dialNextRelay(socket: Socket): void {
    if (this.socket !== socket || this.retryTimer) return;
    this.failedDials++;
    const round = Math.floor(this.failedDials / this.relays.length);
    const base = Math.min(
      BACKOFF.reconnectionDelayMax,
      BACKOFF.reconnectionDelay * 2 ** Math.max(0, round - 1),
    );
    const delay =
      this.failedDials % this.relays.length === 0
        ? base * (1 + Math.random() * BACKOFF.randomizationFactor)
        : 0;
    this.redial(socket, delay);
  }

  /** Leaves this connection and, after `delay` ms, dials the next relay in the list (the same one if alone). */
  private redial(socket: Socket, delay: number): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    socket.removeAllListeners();
    socket.disconnect();
    this.relayIndex = (this.relayIndex + 1) % this.relays.length;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.socket === socket) this.open();
    }, delay);
  }

  deliver(output: ModelOutput, result: ExecResult): void {
    this.draining.ended(result.executionId);
    this.outbox.push({ output, result });
    this.flush();
  }

  /** Sends queued results in order; one the relay has not acknowledged stays queued for the next connection. */
  private flush(): void {
    const socket = this.socket;
    const next = this.outbox[0];
    if (!socket?.connected || !next || this.flushing) return;
    this.flushing = true;
    socket.emit(OperatorEvents.modelOutput, next.output);
    socket
      .timeout(30_000)
      .emitWithAck(OperatorEvents.result, next.result)
      .then(
        (ack: { ok?: boolean; error?: WireError }) => {
          // Refused for good (the relay no longer knows the run): the vault still holds it; drop it here.
          if (!ack?.ok)
            this.log.warn(
              { executionId: next.result.executionId, code: ack?.error?.code },
              'the relay did not take a result',
            );
          this.outbox.shift();
        },
        () => undefined,
      )
      .finally(() => {
        this.flushing = false;
        if (this.outbox.length && this.socket?.connected) this.flush();
        this.leaveIfDrained();
      });
  }

  private async handle(payload: unknown): Promise<Answer> {
    const request = RelayRequest.safeParse(payload);
    if (!request.success) {
      this.log.warn('refused a malformed request from the relay');
      return {
        ok: false,
        error: { code: 'BAD_REQUEST', message: 'the request does not match the protocol.' },
      };
    }
    const refusal = this.nonces.check(request.data);
    if (refusal) {
      this.log.warn({ code: refusal.code, id: request.data.id }, refusal.message);
      return { ok: false, error: refusal };
    }
    if (request.data.kind !== 'exec') return this.serve(request.data);
    // An accepted run keeps the link on a draining relay until its result is reported.
    const { executionId } = request.data;
    const tracked = this.draining.accepted(executionId);
    let answer: Answer | undefined;
    try {
      answer = await this.serve(request.data);
      return answer;
    } finally {
      if (tracked && !answer?.ok) {
        this.draining.ended(executionId);
        this.leaveIfDrained();
      }
    }
  }

  private scheduleRenewal(): void {
    const notAfter = new Date(new X509Certificate(this.credentials.certPem).validTo).getTime();
    const delay = Math.max(1_000, ((notAfter - Date.now()) * 2) / 3);
    this.renewTimer = setTimeout(() => void this.renew(), Math.min(delay, 2 ** 31 - 1));
  }

  private async renew(): Promise<void> {
    const socket = this.socket;
    if (!socket?.connected) {
      this.renewTimer = setTimeout(() => void this.renew(), 5_000);
      return;
    }
    try {
      const keys = generateKeyPair(2048);
      const reply = await socket.timeout(30_000).emitWithAck(OperatorEvents.renew, {
        csr: createCsr(keys.privateKeyPem, keys.publicKeyPem, 'dropops-operator'),
        ...freshNonce(),
      });
      const ack = RenewAck.parse(reply);
      if (!ack.ok) throw new OperatorError(ack.error.code, ack.error.message);
      if (pinApprovalKeyOnRenewal(this.options.dir, ack.result.approvalKey) === 'refused') {
        this.log.warn(
          { code: 'APPROVAL_KEY_CHANGED' },
          'the relay sent an approval key different from the one pinned at enrollment; keeping the pinned key. If the appliance really changed its key, enroll this operator again.',
        );
      }
      this.credentials = {
        ...this.credentials,
        keyPem: keys.privateKeyPem,
        certPem: ack.result.certificate,
        chainPem: ack.result.chain.join(''),
      };
      saveCredentials(this.options.dir, this.enrollment, this.credentials);
      this.log.info({ notAfter: ack.result.notAfter }, 'certificate renewed');
      // Reconnect so the relay sees the new certificate.
      socket.removeAllListeners();
      socket.disconnect();
      this.open();
      this.scheduleRenewal();
    } catch (err) {
      this.log.warn(
        { code: (err as { code?: string }).code, reason: (err as Error).message },
        'certificate renewal failed; retrying in 60 s',
      );
      this.renewTimer = setTimeout(() => void this.renew(), 60_000);
    }
  }

  private close(): void {
    if (this.renewTimer) clearTimeout(this.renewTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.renewTimer = this.retryTimer = null;
    if (this.socket) {
      this.socket.removeAllListeners();
      this.socket.disconnect();
      this.socket.io.engine?.close();
      this.socket = null;
    }
  }
}
