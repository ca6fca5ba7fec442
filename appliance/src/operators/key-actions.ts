import { revokeSerials, type CertificateAuthority } from '@dropops/pki';
import type { RevocationBus } from '../relay/revocation-bus.ts';
import type { SlotStore } from './slots.ts';

/** What cutting a slot's key off needs: the database, the CA's revocation list, and the live cut-off. */
export interface KeyActionDeps {
  ca: CertificateAuthority;
  slots: SlotStore;
  revocations: RevocationBus;
}

/**
 * A new key for the slot; its certificates are revoked and its live operator is cut off, everywhere. The admin
 * API and the console's operator panel both go through here.
 */
export async function refreshOperatorKey(
  deps: KeyActionDeps,
  slotId: string,
): Promise<{ apiKey: string; revokedSerials: string[] }> {
  const { apiKey, revokedSerials } = await deps.slots.refreshKey(slotId);
  revokeSerials(deps.ca.dir, revokedSerials);
  await deps.revocations.cutOff({ operatorId: slotId, serials: revokedSerials }, 'API key refreshed');
  return { apiKey, revokedSerials };
}

/** The slot's key stops working and its certificates are revoked; its live operator is cut off at once. */
export async function revokeOperatorKey(deps: KeyActionDeps, slotId: string): Promise<string[]> {
  const revokedSerials = await deps.slots.revokeKey(slotId);
  revokeSerials(deps.ca.dir, revokedSerials);
  await deps.revocations.cutOff({ operatorId: slotId, serials: revokedSerials }, 'API key revoked');
  return revokedSerials;
}
