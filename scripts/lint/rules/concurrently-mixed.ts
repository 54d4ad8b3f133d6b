import type { Node } from 'libpg-query';
import type { Rule } from './rule.js';

/** A readable name for a statement PostgreSQL refuses inside a transaction block. */
export function nonTransactionalLabel(node: Node): string {
  if ('IndexStmt' in node) return 'CREATE INDEX CONCURRENTLY';
  if ('DropStmt' in node) return 'DROP INDEX CONCURRENTLY';
  if ('ReindexStmt' in node) return 'REINDEX';
  if ('VacuumStmt' in node) return 'VACUUM';
  if ('AlterTableStmt' in node) return 'DETACH PARTITION CONCURRENTLY';
  if ('AlterSystemStmt' in node) return 'ALTER SYSTEM';
  if ('CreatedbStmt' in node) return 'CREATE DATABASE';
  if ('DropdbStmt' in node) return 'DROP DATABASE';
  const [type] = Object.keys(node);
  return type?.replace(/Stmt$/, '') ?? 'statement';
}

export const concurrentlyMixed: Rule = {
  id: 'concurrently-mixed',
  severity: 'error',
  title: 'CONCURRENTLY (or another non-transactional statement) shares its file',
  why:
    'Prisma sends a migration.sql as one query, which PostgreSQL runs as one implicit transaction, so ' +
    'CREATE/DROP INDEX CONCURRENTLY, VACUUM, REINDEX CONCURRENTLY … fail with 25001 "cannot run inside a ' +
    'transaction block" (P3018) unless they are alone in their file. vpc-migrate runs such a file statement by ' +
    'statement without a transaction instead: if a later statement fails, the earlier ones stay applied and the ' +
    'migration has to be resolved by hand.',
  fix:
    'Move each non-transactional statement into a migration ' +
    'folder of its own (e.g. `<timestamp>_<name>_concurrently`), ' +
    'alone in its migration.sql; keep the rest transactional.',
  start(ctx, report) {
    const { statements } = ctx.file;
    const lonely = statements.filter((s) => s.kind === 'non-transactional');
    if (lonely.length === 0 || statements.length === 1) return {};
    const inScript = ctx.file.mode === 'script';
    for (const s of lonely) {
      const others = statements.length - 1;
      report(s, {
        message: inScript
          ? `${nonTransactionalLabel(s.node)} runs inside this file's ` +
            `own BEGIN … COMMIT: PostgreSQL refuses it there (25001), ` +
            `so this migration fails.`
          : `${nonTransactionalLabel(s.node)} shares its file with ` +
            `${others} other statement(s): it fails under Prisma ` +
            `(25001), and vpc-migrate has to run the whole file ` +
            `without a transaction.`,
      });
    }
    return {};
  },
};
