import { RelayError } from '../errors.ts';

/** Socket errors: the server's port is closed, the host is gone, the connection was cut. */
const NETWORK = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);
/** postgres.js's own codes for a connection it lost or could not open. */
const DRIVER = new Set(['CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT']);
/**
 * SQLSTATEs of a server that is going away or not there yet: 57P01-57P03 (shutdown, crash, starting up),
 * class 08 (connection exceptions), 53300 (too many connections).
 */
const SERVER = /^(57P0[123]|08...|53300)$/;

/** Whether a query failed because PostgreSQL cannot be reached, as opposed to a fault in the query. */
export function isDatabaseUnreachable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (NETWORK.has(code) || DRIVER.has(code) || SERVER.test(code));
}

/**
 * The refusal a caller gets while PostgreSQL is away: 503 with a sentence, never the driver's stack. The
 * relay keeps running; postgres.js opens a fresh connection for the next query, so requests work again as
 * soon as the server answers.
 */
export function databaseUnavailable(): RelayError {
  return new RelayError(
    'DATABASE_UNAVAILABLE',
    "the relay's database (PostgreSQL) does not answer; retry when it is back.",
  );
}

/** The relay could not reach the PostgreSQL it was told to use when it started. */
export class DatabaseUnreachableError extends Error {
  readonly code = 'DATABASE_UNREACHABLE';
  override name = 'DatabaseUnreachableError';

  constructor(url: string, cause: Error) {
    // Host and port only: the URL may carry a password.
    super(
      `cannot reach PostgreSQL at ${new URL(url).host} (${cause.message}); check DATABASE_URL and that PostgreSQL runs, or unset it for the embedded database.`,
    );
  }
}
