import { rootCertificates } from 'node:tls';
import type { CustomFetch } from 'openid-client';
import { Agent, fetch } from 'undici';

/**
 * The fetch openid-client uses to reach the identity provider: the system's trusted roots plus the appliance's
 * own root CA (the embedded provider, and Keycloak in the compose install, present certificates from it).
 */
export function trustingFetch(extraRootsPem: string[]): CustomFetch {
  const dispatcher = new Agent({ connect: { ca: [...rootCertificates, ...extraRootsPem] } });
  return ((url: string, options: Parameters<CustomFetch>[1]) =>
    fetch(url, { ...options, dispatcher } as Parameters<typeof fetch>[1])) as unknown as CustomFetch;
}
