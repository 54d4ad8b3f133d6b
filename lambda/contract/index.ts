/**
 * The contract between the CLI (`scripts/`), the worker (`lambda/`) and the stack (`infra/`):
 * the one module all of them import and none of them owns. Wire types and limits, typed errors
 * with stable codes, the SQL codec, event validation, SQLSTATE classes, redaction. No I/O, no
 * `pg`, no `@aws-sdk/*` (test/unit/import-graph.test.ts holds every side to it).
 */
export * from './wire.js';
export * from './limits.js';
export * from './errors.js';
export * from './codec.js';
export * from './validate.js';
export * from './context.js';
export * from './sqlstate.js';
export * from './sql-error.js';
export * from './position.js';
export * from './migration-run.js';
export * from './lock-sql.js';
export * from './redact.js';
export * from './prisma-ledger-sql.js';
export * from './sql-text.js';
export * from './sql-lexer.js';
export * from './reader-role.js';
export * from './database-selector.js';
export * from './backfill-check.js';
export * from './batch-order.js';
export * from './remedy-command.js';
