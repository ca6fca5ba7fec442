import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { caFiles, spkiPin } from '@dropops/pki';
import { jsonRequest } from '@dropops/protocol/json-request';
import { adminTokenPath } from './http/admin-auth.ts';

export const relayInfoPath = (dataDir: string) => join(dataDir, 'relay.json');

export class AdminClientError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'AdminClientError';
  }
}

export interface RelayInfo {
  url: string;
  caPin: string;
}

/** Talks to a running appliance on behalf of the admin CLI, trusting only the appliance's own root CA. */
export class AdminClient {
  private readonly rootCa: string;
  private readonly token: string;
  readonly relay: RelayInfo;

  constructor(dataDir: string, url?: string) {
    const info = relayInfoPath(dataDir);
    if (!existsSync(adminTokenPath(dataDir)) || !existsSync(info)) {
      throw new AdminClientError(
        'APPLIANCE_NOT_FOUND',
        `no appliance data in ${dataDir}; start it with \`npm start\` (or pass --data-dir).`,
      );
    }
    this.rootCa = readFileSync(caFiles(join(dataDir, 'pki')).rootCert, 'utf8');
    this.token = readFileSync(adminTokenPath(dataDir), 'utf8').trim();
    const stored = JSON.parse(readFileSync(info, 'utf8')) as RelayInfo;
    this.relay = { url: url ?? stored.url, caPin: `sha256/${spkiPin(this.rootCa)}` };
  }

  /** `idleTimeoutMs` 0 waits as long as the call takes (a command runs without a timeout unless given one). */
  async call<T>(method: 'GET' | 'POST', path: string, body?: unknown, idleTimeoutMs = 30_000): Promise<T> {
    const outcome = await jsonRequest(
      new URL(path, this.relay.url),
      { method, ca: this.rootCa, headers: { authorization: `Bearer ${this.token}` }, timeout: idleTimeoutMs },
      body,
    );
    if (outcome.kind === 'ok') return outcome.body as T;
    if (outcome.kind === 'unreachable') {
      throw new AdminClientError(
        'APPLIANCE_UNREACHABLE',
        `cannot reach the appliance at ${this.relay.url} (${outcome.cause.code ?? outcome.cause.message}); is it running? Start it with \`npm start\`.`,
      );
    }
    throw outcome.error
      ? new AdminClientError(outcome.error.code, outcome.error.message)
      : new AdminClientError(
          'BAD_RESPONSE',
          `the appliance answered HTTP ${outcome.status} without an explanation.`,
        );
  }
}
