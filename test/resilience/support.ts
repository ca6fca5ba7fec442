import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { caFiles } from '@dropops/pki';
import { adminTokenPath } from '../../appliance/src/http/admin-auth.ts';
import { jsonRequest, type JsonOutcome } from '@dropops/protocol/json-request';
import { startRelay, type RelayProcess } from '../../bench/lib.ts';
import { httpsGet } from '../support/operations.ts';

export interface ReadyzBody {
  ready: boolean;
  reason?: string;
  checks: Record<string, string>;
}

/** A relay process whose stderr (JSON log lines) the test can read back. */
export interface WatchedRelay extends RelayProcess {
  log: () => string;
  alive: () => boolean;
  /** One admin-token request, with the HTTP status (AdminClient hides it). */
  request(method: 'GET' | 'POST', path: string, body?: unknown): Promise<JsonOutcome>;
  readyz(): Promise<{ status: number; body: ReadyzBody }>;
}

export async function startWatchedRelay(
  dataDir: string,
  databaseUrl: string | null,
  env: NodeJS.ProcessEnv = {},
): Promise<WatchedRelay> {
  const relay = await startRelay(dataDir, databaseUrl, env);
  let log = '';
  relay.child.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  const ca = readFileSync(caFiles(join(dataDir, 'pki')).rootCert, 'utf8');
  const token = readFileSync(adminTokenPath(dataDir), 'utf8').trim();
  const request = (method: 'GET' | 'POST', path: string, body?: unknown) =>
    jsonRequest(
      new URL(path, relay.url),
      { method, ca, headers: { authorization: `Bearer ${token}` }, timeout: 60_000 },
      body,
    );
  return Object.assign(relay, {
    log: () => log,
    alive: () => relay.child.exitCode === null && relay.child.signalCode === null,
    request,
    async readyz() {
      const answer = await httpsGet(relay.url, '/readyz', ca);
      return { status: answer.status, body: JSON.parse(answer.text) as ReadyzBody };
    },
  });
}
