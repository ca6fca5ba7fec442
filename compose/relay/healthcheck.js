// The compose healthcheck: GET /healthz over the relay's own TLS, trusting only the appliance's root CA.
// Exit 0 healthy, 1 not. Settings come from the container's environment (DROPOPS_DATA_DIR, DROPOPS_PORT).
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';

const dataDir = process.env.DROPOPS_DATA_DIR ?? '/var/lib/dropops';
const port = Number(process.env.DROPOPS_PORT ?? 8443);

function unhealthy(reason) {
  process.stderr.write(`relay unhealthy: ${reason}\n`);
  process.exit(1);
}

let ca;
try {
  ca = readFileSync(join(dataDir, 'pki', 'root.crt.pem'));
} catch (err) {
  unhealthy(`no CA in ${dataDir}/pki (${err.code ?? err.message})`);
}
// "localhost" is in the relay's certificate (compose sets DROPOPS_DNS_NAMES to include it).
const req = request(
  { host: '127.0.0.1', port, path: '/healthz', ca, servername: 'localhost', timeout: 4000 },
  (res) => {
    res.resume();
    if (res.statusCode === 200) process.exit(0);
    unhealthy(`/healthz answered ${res.statusCode}`);
  },
);
req.on('timeout', () => req.destroy(new Error('no answer within 4 s')));
req.on('error', (err) => unhealthy(err.message));
req.end();
