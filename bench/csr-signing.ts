import { join } from 'node:path';
import { createCsr, generateKeyPair, initCa, signOperatorCsr } from '@dropops/pki';
import { report } from './lib.ts';

/** CSR signings per second by the issuing CA (RSA-3072 issuing key, RSA-2048 operator keys). */
export async function benchCsrSigning(workDir: string): Promise<void> {
  const ca = initCa(join(workDir, 'csr-ca'));
  const csrs = Array.from({ length: 20 }, () => {
    const keys = generateKeyPair();
    return createCsr(keys.privateKeyPem, keys.publicKeyPem, 'bench');
  });
  const rounds = 400;
  for (let i = 0; i < 20; i++)
    signOperatorCsr(ca, csrs[i % csrs.length]!, {
      org: 'bench',
      operatorId: `w${i}`,
      fingerprint: 'f'.repeat(64),
    });
  const started = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) {
    signOperatorCsr(ca, csrs[i % csrs.length]!, {
      org: 'bench',
      operatorId: `op-${i}`,
      fingerprint: 'f'.repeat(64),
    });
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  report('CSR signing (one core, parse + verify + sign)', {
    signings: rounds,
    'signings per second': (rounds / seconds).toFixed(0),
    'per signing': `${((seconds / rounds) * 1000).toFixed(2)} ms`,
  });
}
