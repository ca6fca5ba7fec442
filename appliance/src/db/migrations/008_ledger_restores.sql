-- A Ledger Mirror restore runs beside commands and writes: the host puts one file back to an approved
-- ledger version, and the relay keeps the commit ids it reports (never the content).
ALTER TABLE executions DROP CONSTRAINT executions_kind_check;
ALTER TABLE executions ADD CONSTRAINT executions_kind_check CHECK (kind IN ('exec', 'write', 'restore'));
