import { existsSync, mkdirSync, readFileSync, unwatchFile, watchFile, writeFileSync } from 'node:fs';
import { createServer, type Server as HttpsServer } from 'node:https';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import {
  caFiles,
  initCa,
  issueServerCertificate,
  loadCa,
  spkiPin,
  writePrivateKey,
  type CertificateAuthority,
} from '@dropops/pki';
import {
  HEARTBEAT_INTERVAL_MS,
  HEARTBEAT_TIMEOUT_MS,
  MAX_FRAME_BYTES,
  OPERATOR_NAMESPACE,
} from '@dropops/protocol';
import type { Logger } from 'pino';
import { Server as SocketServer } from 'socket.io';
import { relayInfoPath } from './admin-client.ts';
import type { ApplianceConfig } from './config.ts';
import { openDatabase, type Database } from './db/database.ts';
import { signApproval } from './approvals/tokens.ts';
import { ExecutionService } from './executions/service.ts';
import { ExecutionStore } from './executions/store.ts';
import { ExecutionTracker } from './executions/tracker.ts';
import { createSignIn, type SignInStatus } from './auth/sign-in.ts';
import { createApp } from './http/app.ts';
import { routeTable, type RouteEntry } from './http/route-table.ts';
import { ensureAdminToken } from './http/admin-auth.ts';
import { OperatorCertificates } from './operators/certificates.ts';
import { SlotStore } from './operators/slots.ts';
import { OperatorHub } from './relay/operator-hub.ts';
import { joinReplicas } from './replicas/redis-adapter.ts';
import { TokenBuckets } from './security/rate-limit.ts';
import { ReplayGuard } from './security/replay.ts';
import { BatchRunner, DEFAULT_RUNNER_TIMING } from './batches/runner.ts';
import { BatchService } from './batches/service.ts';
import { BatchStore } from './batches/store.ts';
import { startJobs, type Jobs } from './jobs/setup.ts';
import { startConsoleApi } from './console/setup.ts';
import { serveConsole } from './web/console-files.ts';
import { orgApiRoutes } from './web/org-api.ts';
import { RevocationBus } from './relay/revocation-bus.ts';
import { Drain, type DrainHandler, type DrainReport } from './lifecycle/drain.ts';
import { InFlightRequests } from './lifecycle/in-flight.ts';
import { applianceLogger } from './observability/logger.ts';
import { ApplianceMetrics } from './observability/metrics.ts';
import { Readiness } from './observability/readiness.ts';
import { redisProbe } from './observability/redis-probe.ts';
import { ensureMetricsToken, operationsRoutes } from './observability/routes.ts';

export interface RunningAppliance {
  url: string;
  /** How people sign in to the console; `firstAdminPassword` only while the embedded admin's is unused. */
  signIn: SignInStatus;
  port: number;
  caPin: string;
  ca: CertificateAuthority;
  db: Database;
  hub: OperatorHub;
  slots: SlotStore;
  adminToken: string;
  log: Logger;
  /** The job queue and the clean-up registry, where modules with short-lived rows add their sweep. */
  jobs: Jobs;
  /** What `/readyz` asks; add a check for each dependency a replica cannot serve without. */
  readiness: Readiness;
  metrics: ApplianceMetrics;
  /** Every HTTP route the relay serves, read from its routers (the authorization matrix test walks it). */
  routes: readonly RouteEntry[];
  /** Registers work to finish or hand back when the relay drains, before it closes. */
  onDrain(handler: DrainHandler): void;
  /**
   * Graceful shutdown (SIGTERM): reports not ready, tells operators to reconnect elsewhere, waits up to
   * `graceMs` (default DROPOPS_SHUTDOWN_GRACE_MS) for in-flight requests, runs and drain handlers, then closes.
   */
  drain(graceMs?: number): Promise<DrainReport>;
  /** Closes at once; a second call does nothing. */
  close(): Promise<void>;
}

export interface StartOptions {
  /** Startup parameters for the database connection (tests use a search_path of their own). */
  databaseConnection?: Record<string, string>;
  logger?: Logger;
}

/** The CA and the relay's server certificate, made on first start and reused afterwards. */
function ensurePki(config: ApplianceConfig): CertificateAuthority {
  const dir = join(config.dataDir, 'pki');
  const ca = existsSync(caFiles(dir).meta) ? loadCa(dir) : initCa(dir, { trustDomain: config.trustDomain });
  const files = caFiles(dir);
  if (!existsSync(files.serverCert)) {
    const server = issueServerCertificate(ca, { dnsNames: config.dnsNames, ipAddresses: config.ipAddresses });
    writePrivateKey(files.serverKey, server.privateKeyPem);
    writeFileSync(files.serverCert, server.chainPem);
  }
  return ca;
}

function listen(server: HttpsServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as { port: number }).port);
    });
  });
}

export async function startAppliance(
  config: ApplianceConfig,
  options: StartOptions = {},
): Promise<RunningAppliance> {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  // JSON lines on stderr with secrets redacted; a logger passed in gets the same redaction.
  const log = applianceLogger(config.logLevel, options.logger);
  const ca = ensurePki(config);
  const files = caFiles(ca.dir);
  const adminToken = ensureAdminToken(config.dataDir);
  const db = await openDatabase({
    url: config.databaseUrl,
    dataDir: config.dataDir,
    connection: options.databaseConnection,
  });

  const slots = new SlotStore(db.sql);
  const replay = new ReplayGuard(db.sql);
  const certificates = new OperatorCertificates(ca, slots, config.operatorCertHours);
  const executionStore = new ExecutionStore(db.sql);
  const tracker = new ExecutionTracker();

  const server = createServer({
    key: readFileSync(files.serverKey),
    cert: readFileSync(files.serverCert),
    ca: [ca.issuingCertPem, ca.rootCertPem],
    requestCert: true,
    // Enrollment and the console come without a client certificate; the operator namespace refuses those.
    rejectUnauthorized: false,
    minVersion: 'TLSv1.3',
  });
  // A certificate that is presented but does not verify (foreign CA, expired, wrong usage) ends the TLS session.
  server.on('secureConnection', (socket: TLSSocket) => {
    if (!socket.authorized && socket.getPeerX509Certificate()) {
      log.warn(
        { code: 'TLS_CLIENT_REFUSED', reason: socket.authorizationError, remote: socket.remoteAddress },
        `refused a client certificate (${String(socket.authorizationError)}); the operator must enroll with this appliance.`,
      );
      socket.destroy();
    }
  });
  server.on('tlsClientError', (err, socket) => {
    log.warn(
      { code: 'TLS_HANDSHAKE_FAILED', reason: err.message, remote: socket.remoteAddress },
      'TLS handshake failed',
    );
  });

  const io = new SocketServer(server, {
    serveClient: false,
    maxHttpBufferSize: MAX_FRAME_BYTES,
    pingInterval: HEARTBEAT_INTERVAL_MS,
    pingTimeout: HEARTBEAT_TIMEOUT_MS,
  });
  // With Redis, replicas reach each other's operators; the adapter must be set before the namespace exists.
  const replicas = config.redisUrl
    ? await joinReplicas(io, config.redisUrl, ca.rootCertPem, log).catch(async (err: unknown) => {
        await db.close();
        throw err;
      })
    : null;
  const hub = new OperatorHub(io, {
    ca,
    slots,
    certificates,
    replay,
    executions: executionStore,
    tracker,
    log,
    requestTimeoutMs: config.operatorRequestTimeoutMs,
    clustered: replicas !== null,
  });
  const metrics = new ApplianceMetrics(() => hub.connectedCount());
  metrics.observeOperators(io.of(OPERATOR_NAMESPACE));
  const revocations = new RevocationBus(db, hub, log);
  await revocations.start();
  const executions = new ExecutionService({
    hub,
    store: executionStore,
    tracker,
    signer: {
      sign: async (grant) => {
        const { token } = await signApproval(ca.approvalKey.privateKey, grant);
        metrics.approvalSigned();
        return token;
      },
    },
    log,
  });
  const batchStore = new BatchStore(db.sql);
  const jobs = await startJobs({
    redisUrl: config.redisUrl,
    rootCertPem: ca.rootCertPem,
    sweepIntervalMs: config.sweepIntervalMs,
    sql: db.sql,
    replay,
    batches: batchStore,
    runner: new BatchRunner({
      batches: batchStore,
      slots,
      executions,
      executionStore,
      log,
      timing: { ...DEFAULT_RUNNER_TIMING, reconnectGraceMs: config.reconnectGraceMs },
    }),
    log,
  }).catch(async (err: unknown) => {
    hub.close();
    await replicas?.close();
    await revocations.stop();
    await db.close();
    throw err;
  });
  const batches = new BatchService({ batches: batchStore, slots, executions, queue: jobs.queue, log });
  const signIn = createSignIn(config, { sql: db.sql, rootCaPem: ca.rootCertPem, log, cleanup: jobs.cleanup });
  const consoleApi = await startConsoleApi({
    config,
    sql: db.sql,
    io,
    guard: signIn.guard,
    slots,
    hub,
    executions,
    batches,
    jobs,
    adminToken,
    clustered: replicas !== null,
    log,
  });
  // Operations: /readyz asks the database (and Redis), the drain waits for what is in flight.
  const readiness = new Readiness(log);
  readiness.add('database', () => db.sql`SELECT 1`);
  const redis = config.redisUrl ? redisProbe(config.redisUrl) : null;
  if (redis) readiness.add('redis', () => redis.ping());
  const requests = new InFlightRequests();
  const draining = new Drain({
    readiness,
    operators: io.of(OPERATOR_NAMESPACE),
    requests,
    // Connections that runs of this replica are waiting on: zero when none is waiting.
    pendingRuns: () => tracker.links().length,
    log,
  });
  // A draining replica hands its batch jobs back at once; another replica (or this one, restarted) resumes them.
  draining.onDrain(() => jobs.close());
  // The URL is set once the relay listens; the operator panel's enroll command line names it.
  const relayAddress = { url: 'https://<appliance>', caPin: `sha256/${spkiPin(ca.rootCertPem)}` };
  const app = createApp({
    routes: [
      ...consoleApi.routes,
      ...orgApiRoutes(config, {
        sql: db.sql,
        guard: signIn.guard,
        ca,
        slots,
        revocations,
        hub,
        executions,
        relay: () => relayAddress,
      }),
    ],
    consoleFiles: serveConsole(),
    signIn,
    ipRateLimit: new TokenBuckets(config.rateLimitIpPerMinute),
    ca,
    slots,
    certificates,
    replay,
    hub,
    revocations,
    executions,
    executionStore,
    batches,
    adminToken,
    log,
    operations: {
      observe: [metrics.http(), requests.middleware()],
      routes: operationsRoutes({
        metrics,
        readiness,
        metricsToken: ensureMetricsToken(config.dataDir, config.metricsToken),
      }),
    },
  });
  server.on('request', app.callback());

  // `dropops-pki revoke` edits the list on disk; live operators it names are cut off within the poll interval.
  const onRevocationChange = () => hub.applyRevocations();
  watchFile(files.revoked, { interval: 200 }, onRevocationChange);

  let port: number;
  try {
    port = await listen(server, config.port, config.host);
  } catch (err) {
    unwatchFile(files.revoked, onRevocationChange);
    redis?.close();
    await jobs.close();
    hub.close();
    await replicas?.close();
    await revocations.stop();
    await db.close();
    throw err;
  }
  const hostForUrl = config.host.includes(':')
    ? `[${config.host}]`
    : config.host === '0.0.0.0'
      ? (config.dnsNames[0] ?? 'localhost')
      : config.host;
  const url = `https://${hostForUrl}:${port}`;
  const caPin = `sha256/${spkiPin(ca.rootCertPem)}`;
  relayAddress.url = url;
  // Where the admin CLI finds the running relay.
  writeFileSync(relayInfoPath(config.dataDir), JSON.stringify({ url, caPin }, null, 2) + '\n');
  // The issuer, redirect URI and allowed Origin all derive from the URL, known only now (port 0 in tests).
  const signInStatus = await signIn.start(url);
  log.info({ url }, 'appliance listening');
  let closed = false;

  const running: RunningAppliance = {
    url,
    port,
    signIn: signInStatus,
    caPin,
    ca,
    db,
    hub,
    slots,
    adminToken,
    log,
    jobs,
    readiness,
    metrics,
    routes: routeTable(app.middleware),
    onDrain: (handler) => draining.onDrain(handler),
    async drain(graceMs = config.shutdownGraceMs) {
      const report = await draining.run(graceMs);
      await running.close();
      return report;
    },
    async close() {
      if (closed) return;
      closed = true;
      unwatchFile(files.revoked, onRevocationChange);
      redis?.close();
      await consoleApi.close();
      // First, so running batches hand their jobs back while their operators are still connected.
      await jobs.close();
      hub.close();
      await new Promise<void>((resolve) => io.close(() => resolve()));
      server.closeAllConnections();
      await replicas?.close();
      await revocations.stop();
      await db.close();
    },
  };
  return running;
}
