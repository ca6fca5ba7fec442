import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import postgres from 'postgres';
import { tempDir } from '../helpers.ts';
import { eventually } from './appliance.ts';

/**
 * PostgreSQL and Redis servers of a suite's own, in a temporary directory on a random loopback port, for
 * tests that stop and start them: the machine's shared servers serve other suites and must stay up.
 */

/** A server the suite can stop (as an outage) and start again on the same port with the same data. */
export interface PrivateService {
  url: string;
  port: number;
  /** Whether it is running now. */
  running(): boolean;
  /** Starts it and resolves once it answers. */
  start(): Promise<void>;
  /** Stops it as an outage would: clients are cut off, the port closes. */
  stop(): Promise<void>;
  /** Stops it and removes its files. */
  remove(): Promise<void>;
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const file = join(dir, name);
    if (dir && existsSync(file)) return file;
  }
  return undefined;
}

/** initdb and postgres: on the PATH, else from Debian's /usr/lib/postgresql/<newest>/bin. */
function postgresBinaries(): { initdb: string; postgres: string } | undefined {
  const initdb = onPath('initdb');
  const server = onPath('postgres');
  if (initdb && server) return { initdb, postgres: server };
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const newest = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a))[0];
  return newest
    ? { initdb: join(root, newest, 'bin', 'initdb'), postgres: join(root, newest, 'bin', 'postgres') }
    : undefined;
}

/**
 * Whether this machine can run private servers. Missing binaries skip the suite, or fail it under
 * DROPOPS_REQUIRE_SERVICES=1, like a missing DATABASE_URL in services.ts.
 */
export function hasPrivateServices(): boolean {
  const missing = [
    ...(postgresBinaries() ? [] : ['PostgreSQL server binaries (initdb, postgres; Debian: postgresql)']),
    ...(onPath('redis-server') ? [] : ['redis-server (Debian: redis-server)']),
  ];
  if (missing.length === 0) return true;
  if (process.env.DROPOPS_REQUIRE_SERVICES === '1')
    throw new Error(
      `DROPOPS_REQUIRE_SERVICES=1 but ${missing.join(' and ')} not found; install the package named.`,
    );
  return false;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** PostgreSQL refuses to run as root: as root, the server runs as the `postgres` system user. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const entry = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .map((line) => line.split(':'))
    .find((fields) => fields[0] === 'postgres');
  if (!entry) throw new Error('running as root, and there is no postgres user to run PostgreSQL as.');
  return { uid: Number(entry[2]), gid: Number(entry[3]) };
}

/** One process the service runs as; stopping sends `signal` and waits for it to exit. */
function supervised(launch: () => ChildProcess, signal: NodeJS.Signals) {
  let child: ChildProcess | undefined;
  let output = '';
  return {
    output: () => output,
    running: () => child !== undefined && child.exitCode === null && child.signalCode === null,
    launch() {
      const started = launch();
      child = started;
      started.stdout?.on('data', (c: Buffer) => (output += c.toString()));
      started.stderr?.on('data', (c: Buffer) => (output += c.toString()));
      // A test process that dies without its afterAll must not leave the server behind.
      const orphaned = () => started.kill(signal);
      process.once('exit', orphaned);
      started.once('exit', () => process.off('exit', orphaned));
    },
    async stop() {
      const current = child;
      if (!current || current.exitCode !== null || current.signalCode !== null) return;
      const exited = new Promise((resolve) => current.once('exit', resolve));
      current.kill(signal);
      await exited;
    },
  };
}

/** A PostgreSQL cluster of its own: trust authentication for `postgres`, TCP on loopback only. */
export async function startPrivatePostgres(): Promise<PrivateService> {
  const binaries = postgresBinaries();
  if (!binaries)
    throw new Error('PostgreSQL server binaries not found (Debian: apt-get install postgresql).');
  const dir = tempDir('dropops-pg-');
  const user = serverUser();
  if (user) chownSync(dir.path, user.uid, user.gid);
  const data = join(dir.path, 'data');
  await promisify(execFile)(
    binaries.initdb,
    ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync'],
    { uid: user?.uid, gid: user?.gid },
  ).catch((err: { stderr?: string; message: string }) => {
    throw new Error(`initdb failed: ${err.stderr || err.message}`);
  });
  const port = await freePort();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const server = supervised(
    () =>
      spawn(
        binaries.postgres,
        [
          '-D',
          data,
          '-c',
          'listen_addresses=127.0.0.1',
          '-c',
          `port=${port}`,
          '-c',
          'unix_socket_directories=',
          '-c',
          'fsync=off',
          '-c',
          'shared_buffers=16MB',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'], uid: user?.uid, gid: user?.gid },
      ),
    // Fast shutdown: every client connection is cut at once, as when the server goes away.
    'SIGINT',
  );
  const answers = async () => {
    const sql = postgres(url, { max: 1, connect_timeout: 2, onnotice: () => {} });
    try {
      await sql`SELECT 1`;
      return true;
    } catch {
      return false;
    } finally {
      await sql.end({ timeout: 1 }).catch(() => {});
    }
  };
  const service: PrivateService = {
    url,
    port,
    running: () => server.running(),
    async start() {
      server.launch();
      await eventually(
        async () => {
          if (!server.running()) throw new Error(`postgres exited: ${server.output()}`);
          return answers();
        },
        'the private PostgreSQL to answer',
        60_000,
      );
    },
    stop: () => server.stop(),
    async remove() {
      await server.stop();
      dir.remove();
    },
  };
  await service.start();
  return service;
}

/** Sends PING and resolves with whether +PONG came back. */
function redisPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    socket.setTimeout(2_000, () => socket.destroy());
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (c: Buffer) => {
      reply += c.toString();
      if (reply.includes('\r\n')) socket.end();
    });
    socket.on('close', () => resolve(reply.startsWith('+PONG')));
    socket.on('error', () => {});
  });
}

/**
 * A Redis of its own that keeps nothing on disk: stopping it loses every key, as a Redis restarted without
 * persistence (or flushed) does.
 */
export async function startPrivateRedis(): Promise<PrivateService> {
  const binary = onPath('redis-server');
  if (!binary) throw new Error('redis-server not found (Debian: apt-get install redis-server).');
  const dir = tempDir('dropops-redis-');
  const port = await freePort();
  const server = supervised(
    () =>
      spawn(
        binary,
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--save',
          '',
          '--appendonly',
          'no',
          '--dir',
          dir.path,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      ),
    'SIGTERM',
  );
  const service: PrivateService = {
    url: `redis://127.0.0.1:${port}`,
    port,
    running: () => server.running(),
    async start() {
      server.launch();
      await eventually(
        async () => {
          if (!server.running()) throw new Error(`redis-server exited: ${server.output()}`);
          return redisPing(port);
        },
        'the private Redis to answer',
        30_000,
      );
    },
    stop: () => server.stop(),
    async remove() {
      await server.stop();
      dir.remove();
    },
  };
  await service.start();
  return service;
}
