export { loadConfig, ApplianceConfig, ConfigError } from './config.ts';
export { startAppliance, type RunningAppliance } from './start.ts';
export { AdminClient, AdminClientError } from './admin-client.ts';
export { openDatabase, type Database } from './db/database.ts';
export { ReplayGuard } from './security/replay.ts';
export { RelayError } from './errors.ts';
export { signApproval, type ApprovalGrant, type SignedApproval } from './approvals/tokens.ts';
export { main } from './cli.ts';
