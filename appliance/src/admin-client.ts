import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { caFiles, spkiPin } from '@dropops/pki';
import { WireError } from '@dropops/protocol';
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

  call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        new URL(path, this.relay.url),
        {
          method,
          ca: this.rootCa,
          headers: {
            authorization: `Bearer ${this.token}`,
            ...(payload
              ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
              : {}),
          },
          timeout: 30_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            let parsed: unknown;
            try {
              parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            } catch {
              return reject(
                new AdminClientError(
                  'BAD_RESPONSE',
                  `the appliance answered ${res.statusCode} with no JSON.`,
                ),
              );
            }
            if ((res.statusCode ?? 500) < 300) return resolve(parsed as T);
            const error = WireError.safeParse((parsed as { error?: unknown }).error);
            reject(
              error.success
                ? new AdminClientError(error.data.code, error.data.message)
                : new AdminClientError('BAD_RESPONSE', `HTTP ${res.statusCode}`),
            );
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (err: NodeJS.ErrnoException) =>
        reject(
          new AdminClientError(
            'APPLIANCE_UNREACHABLE',
            `cannot reach the appliance at ${this.relay.url} (${err.code ?? err.message}); is it running? Start it with \`npm start\`.`,
          ),
        ),
      );
      req.end(payload);
    });
  }
}
