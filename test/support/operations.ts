import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { caFiles } from '@dropops/pki';
import { enroll, runOperator, type RunOutcome } from '@dropops/operator';
import { metricsTokenPath } from '../../appliance/src/observability/routes.ts';
import { capturedLogger, eventually, type LogLine } from './appliance.ts';

export interface Answer {
  status: number;
  type: string;
  text: string;
}

/** One HTTPS GET against a relay, trusting only its root CA. */
export function httpsGet(base: string, path: string, ca: string, headers: Record<string, string> = {}) {
  return new Promise<Answer>((resolve, reject) => {
    const req = request(new URL(path, base), { ca, headers, timeout: 10_000 }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c));
      res.on('end', () =>
        resolve({ status: res.statusCode!, type: String(res.headers['content-type']), text }),
      );
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** How many approval tokens a relay process has signed, from its /metrics: the relay running a batch signs its steps'. */
export async function approvalTokensSigned(relay: { url: string; dataDir: string }): Promise<number> {
  const ca = readFileSync(caFiles(join(relay.dataDir, 'pki')).rootCert, 'utf8');
  const token = readFileSync(metricsTokenPath(relay.dataDir), 'utf8').trim();
  const { text } = await httpsGet(relay.url, '/metrics', ca, { authorization: `Bearer ${token}` });
  return Number(/^dropops_approval_tokens_signed_total (\d+)/m.exec(text)?.[1] ?? 0);
}

export interface RunningOperator {
  operatorId: string;
  dir: string;
  logs: LogLine[];
  connections: () => number;
  /** Whether runOperator has returned or thrown, and with what. */
  ended: () => RunOutcome | Error | null;
  stop: () => Promise<RunOutcome>;
}

/**
 * A real operator: a slot created through `admin`, enrolled at `enrollUrl`, running in-process against
 * `relays` (default: the enrollment URL) until `stop`.
 */
export async function startOperator(options: {
  admin: { call<T>(method: 'POST', path: string, body?: unknown): Promise<T> };
  enrollUrl: string;
  caPin: string;
  work: string;
  name: string;
  fingerprint: string;
  cwd?: string;
  relays?: string[];
}): Promise<RunningOperator> {
  const { apiKey, operator } = await options.admin.call<{ apiKey: string; operator: { id: string } }>(
    'POST',
    '/api/operators',
    { org: 'acme', name: options.name },
  );
  const dir = join(options.work, `state-${options.name}`);
  await enroll({
    relay: options.enrollUrl,
    apiKey,
    caPin: options.caPin,
    dir,
    fingerprint: options.fingerprint,
  });
  const { logger, lines } = capturedLogger('operator');
  const controller = new AbortController();
  let connections = 0;
  let ended: RunOutcome | Error | null = null;
  const outcome = runOperator({
    dir,
    log: logger,
    fingerprint: options.fingerprint,
    signal: controller.signal,
    cwd: options.cwd ?? options.work,
    relays: options.relays,
    onConnected: () => connections++,
  }).then(
    (value) => (ended = value),
    (err: Error) => {
      ended = err;
      throw err;
    },
  );
  outcome.catch(() => {});
  await eventually(() => connections > 0, `operator ${options.name} to connect`);
  return {
    operatorId: operator.id,
    dir,
    logs: lines,
    connections: () => connections,
    ended: () => ended,
    stop: () => {
      controller.abort();
      return outcome;
    },
  };
}

export interface LoadBalancer {
  url: string;
  /** Which backend (index) each accepted connection went to. */
  routed: number[];
  close(): Promise<void>;
}

/**
 * A TCP load balancer in front of relay replicas, as in a real deployment: for each new connection it asks
 * the backends' `/readyz` in order and forwards the bytes (TLS stays end to end) to the first that is ready.
 */
export async function startLoadBalancer(backends: { url: string }[], ca: string): Promise<LoadBalancer> {
  const routed: number[] = [];
  const open = new Set<Socket>();
  const isReady = (url: string) =>
    httpsGet(url, '/readyz', ca).then(
      (a) => a.status === 200,
      () => false,
    );
  const server = createServer((client) => {
    open.add(client);
    client.on('close', () => open.delete(client));
    client.on('error', () => client.destroy());
    client.pause();
    void (async () => {
      for (const [index, backend] of backends.entries()) {
        if (!(await isReady(backend.url))) continue;
        const target = new URL(backend.url);
        const upstream = connect(Number(target.port), target.hostname);
        open.add(upstream);
        upstream.on('close', () => open.delete(upstream));
        upstream.on('error', () => client.destroy());
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
        client.pipe(upstream).pipe(client);
        client.resume();
        routed.push(index);
        return;
      }
      client.destroy();
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `https://127.0.0.1:${port}`,
    routed,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
