// A child process holding many idle operator connections: each a real TLS 1.3 client with its own
// certificate. Prints "connected N" when all are up, then idles until killed.
import { readFileSync } from 'node:fs';
import { io, type Socket } from 'socket.io-client';

interface Job {
  url: string;
  rootPem: string;
  keyPem: string;
  certs: string[];
}

const job = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Job;
const sockets: Socket[] = [];
let connected = 0;
let failed = 0;
const inFlight = 64;

function open(index: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = io(`${job.url}/operator`, {
      transports: ['websocket'],
      reconnection: false,
      ca: job.rootPem,
      key: job.keyPem,
      cert: job.certs[index]!,
      timeout: 60_000,
    });
    sockets.push(socket);
    socket.once('connect', () => {
      connected++;
      resolve();
    });
    socket.once('connect_error', (err) => {
      failed++;
      if (failed <= 3) console.error(`connect_error: ${err.message}`);
      resolve();
    });
  });
}

let next = 0;
await Promise.all(
  Array.from({ length: inFlight }, async () => {
    while (next < job.certs.length) await open(next++);
  }),
);
console.log(`connected ${connected} failed ${failed}`);
process.on('SIGTERM', () => {
  for (const s of sockets) s.close();
  process.exit(0);
});
setInterval(() => {}, 1 << 30);
