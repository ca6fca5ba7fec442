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
import { HEARTBEAT_INTERVAL_MS, HEARTBEAT_TIMEOUT_MS, MAX_FRAME_BYTES } from '@dropops/protocol';
import pino, { type Logger } from 'pino';
import { Server as SocketServer } from 'socket.io';
import { relayInfoPath } from './admin-client.ts';
import type { ApplianceConfig } from './config.ts';
import { openDatabase, type Database } from './db/database.ts';
import { signApproval } from './approvals/tokens.ts';
import { ExecutionService } from './executions/service.ts';
import { ExecutionStore } from './executions/store.ts';
import { ExecutionTracker } from './executions/tracker.ts';
import { createApp } from './http/app.ts';
import { ensureAdminToken } from './http/admin-auth.ts';
import { OperatorCertificates } from './operators/certificates.ts';
import { SlotStore } from './operators/slots.ts';
import { OperatorHub } from './relay/operator-hub.ts';
import { ReplayGuard } from './security/replay.ts';
import { RevocationBus } from './relay/revocation-bus.ts';

export interface RunningAppliance {
  url: string;
  port: number;
  caPin: string;
  ca: CertificateAuthority;
  db: Database;
  hub: OperatorHub;
  slots: SlotStore;
  adminToken: string;
  log: Logger;
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
  const log =
    options.logger ?? pino({ level: config.logLevel, base: { service: 'appliance' } }, pino.destination(2));
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
  const hub = new OperatorHub(io, {
    ca,
    slots,
    certificates,
    replay,
    executions: executionStore,
    tracker,
    log,
    requestTimeoutMs: config.operatorRequestTimeoutMs,
  });
  const revocations = new RevocationBus(db, hub, log);
  await revocations.start();
  const executions = new ExecutionService({
    hub,
    store: executionStore,
    tracker,
    signer: { sign: async (grant) => (await signApproval(ca.approvalKey.privateKey, grant)).token },
    log,
  });
  const app = createApp({
    ca,
    slots,
    certificates,
    replay,
    hub,
    revocations,
    executions,
    executionStore,
    adminToken,
    log,
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
  // Where the admin CLI finds the running relay.
  writeFileSync(relayInfoPath(config.dataDir), JSON.stringify({ url, caPin }, null, 2) + '\n');
  log.info({ url }, 'appliance listening');

  return {
    url,
    port,
    caPin,
    ca,
    db,
    hub,
    slots,
    adminToken,
    log,
    async close() {
      unwatchFile(files.revoked, onRevocationChange);
      await new Promise<void>((resolve) => io.close(() => resolve()));
      server.closeAllConnections();
      await revocations.stop();
      await db.close();
    },
  };
}
