export { canonicalJson, eventHash, GENESIS_HASH, type ChainFields } from './canonical.ts';
export { VaultError, type VaultErrorCode } from './errors.ts';
export { exportVault } from './export.ts';
export { EVENT_TYPES, SCHEMA_VERSION, type EventType } from './schema.ts';
export {
  defaultVaultDir,
  openVault,
  outputDigests,
  vaultPath,
  type Appended,
  type EventQuery,
  type Head,
  type NewEvent,
  type OpenOptions,
  type OutputChunk,
  type OutputDigest,
  type OutputStream,
  type SessionInfo,
  type StoredEvent,
  type Vault,
} from './vault.ts';
export { verifyVault, type Problem, type VerifyOptions, type VerifyResult } from './verify.ts';
