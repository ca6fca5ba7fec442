import type { ModelEvent } from '../../appliance/src/llm/index.ts';

/** Every event of one turn, in order (the stream ends by itself: done or a terminal error). */
export async function collect(events: AsyncIterable<ModelEvent>): Promise<ModelEvent[]> {
  const all: ModelEvent[] = [];
  for await (const event of events) all.push(event);
  return all;
}

export const texts = (events: ModelEvent[]) => events.flatMap((e) => (e.type === 'text' ? [e.text] : []));
export const last = (events: ModelEvent[]) => events.at(-1);

/** A loopback port with nothing listening on it. */
export async function closedPort(): Promise<number> {
  const { createServer } = await import('node:net');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Runs a turn and presses stop as soon as the first token arrives. */
export async function stopAtFirstText(
  chat: (signal: AbortSignal) => AsyncIterable<ModelEvent>,
): Promise<ModelEvent[]> {
  const stop = new AbortController();
  const events: ModelEvent[] = [];
  for await (const event of chat(stop.signal)) {
    events.push(event);
    if (event.type === 'text') stop.abort();
  }
  return events;
}
