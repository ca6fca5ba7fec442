import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  /** Path and query, as sent. */
  url: string;
  headers: IncomingMessage['headers'];
  body: unknown;
}

/** A loopback HTTP server for the model-API fakes: it records requests and notices abandoned responses. */
export interface FakeHttpServer {
  url: string;
  requests: RecordedRequest[];
  /** Responses the client closed before the server finished them (a stop, a timeout). */
  readonly abandoned: number;
  /** Resolves once at least `count` responses have been abandoned by the client. */
  waitForAbandoned(count?: number): Promise<void>;
  close(): Promise<void>;
}

export type FakeHandler = (request: RecordedRequest, res: ServerResponse) => Promise<void> | void;

export async function startFakeHttpServer(handle: FakeHandler): Promise<FakeHttpServer> {
  const requests: RecordedRequest[] = [];
  let abandoned = 0;
  const waiters: { count: number; resolve: () => void }[] = [];
  const server = createServer((req, res) => {
    res.on('close', () => {
      if (res.writableFinished) return;
      abandoned += 1;
      for (const w of waiters.filter((w) => abandoned >= w.count)) w.resolve();
    });
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        // kept as text: the fake answers malformed bodies as the real API would
      }
      const recorded = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body };
      requests.push(recorded);
      Promise.resolve(handle(recorded, res)).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`fake server failed: ${String(error)}`);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    get abandoned() {
      return abandoned;
    },
    waitForAbandoned(count = 1) {
      if (abandoned >= count) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ count, resolve }));
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Keeps a response open and silent until the client goes away: a model server that hangs. */
export function hangUntilClosed(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    if (res.destroyed) resolve();
    else res.on('close', () => resolve());
  });
}

/** A scripted turn: chosen for a request when `when` accepts the conversation so far. */
export interface ScriptedTurn<Conversation, Reply> {
  when: (conversation: Conversation) => boolean;
  reply: Reply;
}

/** The first turn that matches, the way a script is read. */
export function pickTurn<C, R>(turns: readonly ScriptedTurn<C, R>[], conversation: C): R | undefined {
  return turns.find((turn) => turn.when(conversation))?.reply;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

/** Splits text the way a model streams it: one word with its following space per chunk. */
export function tokens(text: string): string[] {
  return text.match(/\S+\s*|\s+/g) ?? [];
}
