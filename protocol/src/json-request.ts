import { request, type RequestOptions } from 'node:https';
import { WireError } from './index.ts';

export type JsonOutcome =
  | { kind: 'ok'; body: unknown }
  /** The peer answered with an error status; `error` is its WireError, or null when it sent none. */
  | { kind: 'refused'; status: number; error: WireError | null }
  | { kind: 'unreachable'; cause: Error & { code?: string } };

/** One HTTPS request with a JSON body and answer. Callers turn the outcome into their own typed errors. */
export function jsonRequest(url: URL, options: RequestOptions, body?: unknown): Promise<JsonOutcome> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers = {
    ...options.headers,
    ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
  };
  return new Promise((resolve) => {
    // A connection of its own: a kept-alive socket that the relay closes as idle just as it is reused would
    // surface as ECONNRESET on a request that never reached the relay.
    const req = request(url, { timeout: 30_000, agent: false, ...options, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const status = res.statusCode ?? 500;
        let parsed: unknown;
        try {
          parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          return resolve({ kind: 'refused', status, error: null });
        }
        if (status < 300) return resolve({ kind: 'ok', body: parsed });
        const error = WireError.safeParse((parsed as { error?: unknown } | null)?.error);
        resolve({ kind: 'refused', status, error: error.success ? error.data : null });
      });
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', (cause) => resolve({ kind: 'unreachable', cause }));
    req.end(payload);
  });
}
