import { CONSOLE_NAMESPACE, type ConsoleClientEvent } from '@dropops/protocol/console';
import { io, type Socket } from 'socket.io-client';
import { ApiError } from './http.ts';

/** How long the console waits for the relay to acknowledge an event. */
const ACK_TIMEOUT_MS = 60_000;

let socket: Socket | undefined;

/**
 * The console's one Socket.IO connection, on the relay's /console namespace. It authenticates with the
 * session cookie the browser sends on the WebSocket handshake; the relay also checks its Origin.
 */
export function consoleSocket(): Socket {
  socket ??= io(CONSOLE_NAMESPACE, { transports: ['websocket'], withCredentials: true });
  return socket;
}

type Ack<T> = { ok: true; result: T } | { ok: false; error: { code: string; message: string } };

/** Sends an event and resolves with its result, or rejects with the relay's error. */
export async function ask<T>(event: ConsoleClientEvent, payload: object): Promise<T> {
  let ack: Ack<T>;
  try {
    ack = (await consoleSocket().timeout(ACK_TIMEOUT_MS).emitWithAck(event, payload)) as Ack<T>;
  } catch {
    throw new ApiError('UNREACHABLE', 'the appliance did not answer in time; try again.', 0);
  }
  if (!ack.ok) throw new ApiError(ack.error.code, ack.error.message, 0);
  return ack.result;
}
