import { EnrollRequest, type IssuedCertificate } from '@dropops/protocol';
import { RelayError } from '../errors.ts';
import { slotIdOf, verifyApiKey } from '../operators/api-keys.ts';
import type { OperatorCertificates } from '../operators/certificates.ts';
import type { SlotStore } from '../operators/slots.ts';
import type { ReplayGuard } from '../security/replay.ts';
import { parseInput } from '../validation.ts';

const INVALID_KEY =
  'the API key is not valid; copy it again from `dropops-appliance operator create` or ask for a refresh-key.';

/**
 * First contact: an API key, a CSR and the host fingerprint buy a short-lived client certificate.
 * The key binds to the first host that uses it; another host is refused until the slot is re-registered.
 */
export async function enroll(
  body: unknown,
  deps: { slots: SlotStore; certificates: OperatorCertificates; replay: ReplayGuard },
): Promise<IssuedCertificate> {
  const request = parseInput(EnrollRequest, body, 'enrollment request');
  await deps.replay.check(request);
  const slotId = slotIdOf(request.apiKey);
  const slot = slotId ? await deps.slots.get(slotId) : undefined;
  if (!slot) throw new RelayError('INVALID_API_KEY', INVALID_KEY);
  if (!slot.api_key_hash) {
    throw new RelayError(
      'API_KEY_REVOKED',
      `the key for operator "${slot.name}" was revoked; an admin can issue a new one with refresh-key.`,
    );
  }
  if (!(await verifyApiKey(request.apiKey, slot.api_key_hash)))
    throw new RelayError('INVALID_API_KEY', INVALID_KEY);
  if (!(await deps.slots.bindFingerprint(slot.id, request.fingerprint))) {
    throw new RelayError(
      'FINGERPRINT_MISMATCH',
      `this key is registered to another host; to move operator "${slot.name}" here, an admin runs \`dropops-appliance operator refresh-key ${slot.org}/${slot.name}\`.`,
    );
  }
  return deps.certificates.issue(slot, request.csr, request.fingerprint);
}
