import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { checkServerIdentity, connect, type ConnectionOptions, type PeerCertificate } from 'node:tls';
import { normalisePin, spkiPin } from '@dropops/pki';
import { jsonRequest } from '@dropops/protocol/json-request';
import { OperatorError } from '../errors.ts';

export interface RelayAddress {
  host: string;
  port: number;
  url: URL;
  /** SNI name; RFC 6066 allows no IP addresses there. */
  servername: string;
}

export function parseRelayUrl(relay: string): RelayAddress {
  let url: URL;
  try {
    url = new URL(relay);
  } catch {
    throw new OperatorError(
      'BAD_ARGUMENT',
      `"${relay}" is not a URL; write it as https://relay.example:8443.`,
    );
  }
  if (url.protocol !== 'https:') {
    throw new OperatorError(
      'BAD_ARGUMENT',
      `the relay URL must start with https:// (got ${url.protocol}); the operator never talks in clear.`,
    );
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return { host, port: Number(url.port || 443), url, servername: isIP(host) ? '' : host };
}

function chainOf(leaf: PeerCertificate): X509Certificate[] {
  const chain: X509Certificate[] = [];
  const seen = new Set<string>();
  let current: PeerCertificate | undefined = leaf;
  while (current?.raw && !seen.has(current.fingerprint256)) {
    seen.add(current.fingerprint256);
    chain.push(new X509Certificate(current.raw));
    current = (current as { issuerCertificate?: PeerCertificate }).issuerCertificate;
  }
  return chain;
}

const mismatch = (host: string) =>
  new OperatorError(
    'PIN_MISMATCH',
    `the relay at ${host} does not present a certificate chain to the pinned CA; this may be a man in the middle. Check the --ca-pin printed by the appliance.`,
  );

/**
 * TLS options that trust exactly one root, the pinned one, and check the pin again on every handshake:
 * a relay whose chain does not lead to that key is refused even if its root were somehow installed.
 */
export type PinnedTls = Required<
  Pick<ConnectionOptions, 'rejectUnauthorized' | 'minVersion' | 'servername' | 'checkServerIdentity'>
> & {
  ca: string;
};

export function pinnedTlsOptions(address: RelayAddress, rootPem: string, caPin: string): PinnedTls {
  const pin = normalisePin(caPin);
  return {
    ca: rootPem,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.3',
    servername: address.servername,
    checkServerIdentity(host, cert) {
      const identityError = checkServerIdentity(host, cert);
      if (identityError) return identityError;
      return chainOf(cert).some((c) => spkiPin(c) === pin) ? undefined : mismatch(address.host);
    },
  };
}

/**
 * Finds the pinned root in the relay's chain before trusting anything. This handshake sends no data:
 * it only learns the root certificate, and accepts it only if its key matches the pin and the chain
 * from the relay's leaf certificate verifies up to it.
 */
export function fetchPinnedRoot(address: RelayAddress, caPin: string): Promise<string> {
  const pin = normalisePin(caPin);
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: address.host,
      port: address.port,
      servername: address.servername,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.3',
    });
    socket.setTimeout(10_000, () => socket.destroy(new Error('timed out')));
    socket.once('secureConnect', () => {
      const peer = socket.getPeerCertificate(true);
      socket.destroy();
      const chain = chainOf(peer);
      const rootIndex = chain.findIndex((c) => spkiPin(c) === pin);
      const root = chain[rootIndex];
      const linksVerify = chain
        .slice(0, rootIndex + 1)
        .every((c, i) => c.verify((chain[i + 1] ?? c).publicKey) && c.checkIssued(chain[i + 1] ?? c));
      if (!root || !linksVerify || !root.ca || !root.verify(root.publicKey))
        return reject(mismatch(address.host));
      const identityError = checkServerIdentity(address.host, peer);
      if (identityError) {
        return reject(
          new OperatorError(
            'PIN_MISMATCH',
            `the relay's certificate is not for ${address.host} (${identityError.message}); use the name the appliance printed.`,
          ),
        );
      }
      resolve(root.toString());
    });
    socket.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new OperatorError(
          'RELAY_UNREACHABLE',
          `cannot reach the relay at ${address.url.origin} (${err.code ?? err.message}); check the URL and that the appliance runs.`,
        ),
      ),
    );
  });
}

/** A JSON POST over the pinned connection; relay refusals come back as typed OperatorErrors. */
export async function postJson<T>(
  address: RelayAddress,
  tls: PinnedTls,
  path: string,
  body: unknown,
): Promise<T> {
  const outcome = await jsonRequest(new URL(path, address.url), { ...tls, method: 'POST' }, body);
  if (outcome.kind === 'ok') return outcome.body as T;
  if (outcome.kind === 'unreachable') {
    if (outcome.cause instanceof OperatorError) throw outcome.cause;
    throw new OperatorError(
      'RELAY_UNREACHABLE',
      `the request to ${address.url.origin} failed (${outcome.cause.code ?? outcome.cause.message}).`,
    );
  }
  throw outcome.error
    ? new OperatorError(outcome.error.code, outcome.error.message)
    : new OperatorError('RELAY_REFUSED', `the relay answered HTTP ${outcome.status} without an explanation.`);
}
