-- write_file runs beside commands, and the Ledger Mirror commits a host reported for each run (ids only:
-- the file content stays on the host).
ALTER TABLE executions DROP CONSTRAINT executions_kind_check;
ALTER TABLE executions ADD CONSTRAINT executions_kind_check CHECK (kind IN ('exec', 'write'));
ALTER TABLE executions ADD COLUMN ledger_commits text[];
