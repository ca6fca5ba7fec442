export * from './errors.ts';
export * from './files.ts';
export * from './keys.ts';
export * from './signing.ts';
export * from './pin.ts';
export * from './identity.ts';
export * from './revocation.ts';
export * from './authority.ts';
export { createCsr } from './csr.ts';
