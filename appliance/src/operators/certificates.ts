import { PkiError, signOperatorCsr, type CertificateAuthority } from '@dropops/pki';
import type { IssuedCertificate } from '@dropops/protocol';
import { RelayError } from '../errors.ts';
import type { SlotRow, SlotStore } from './slots.ts';

/** Signs an operator's CSR for the identity the relay has on record, and records the serial for revocation. */
export class OperatorCertificates {
  constructor(
    private readonly ca: CertificateAuthority,
    private readonly slots: SlotStore,
    private readonly lifetimeHours: number,
  ) {}

  async issue(slot: SlotRow, csrPem: string, fingerprint: string): Promise<IssuedCertificate> {
    let issued;
    try {
      issued = signOperatorCsr(this.ca, csrPem, {
        org: slot.org,
        operatorId: slot.id,
        fingerprint,
        lifetimeHours: this.lifetimeHours,
      });
    } catch (err) {
      if (err instanceof PkiError) throw new RelayError('BAD_REQUEST', err.message);
      throw err;
    }
    await this.slots.recordCertificate(slot.id, issued.serial, fingerprint, issued.notAfter);
    return {
      operatorId: slot.id,
      org: slot.org,
      name: slot.name,
      certificate: issued.certificatePem,
      chain: [this.ca.issuingCertPem, this.ca.rootCertPem],
      notAfter: issued.notAfter.toISOString(),
      approvalKey: this.ca.approvalKey.publicKeyPem,
    };
  }
}
