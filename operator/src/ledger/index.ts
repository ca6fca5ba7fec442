export { LedgerError, type LedgerErrorCode } from './errors.ts';
export { readState, writeAtomically, type FileState } from './files.ts';
export {
  ledgerPath,
  openLedger,
  type Change,
  type ChangeMeta,
  type Committed,
  type Ledger,
  type LogEntry,
  type OpenLedgerOptions,
  type RecordInput,
  type Restored,
  type RestoreMeta,
} from './ledger.ts';
export type { LedgerAction } from './message.ts';
