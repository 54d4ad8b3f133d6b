/**
 * The linter's data: migrations in, findings out. Rules are pure functions over parsed
 * statements and a model of the schema the migration history builds (schema.ts).
 */
import type { Node } from 'libpg-query';
import type { ExecutionMode, StatementKind } from '../../lambda/contract/index.js';
import type { SplitParseError } from '../core/split.js';

export type Severity = 'error' | 'warning';

export type RuleId =
  | 'parse-error'
  | 'concurrently-mixed'
  | 'enum-value-same-transaction'
  | 'prisma-m2m-churn'
  | 'index-recreation'
  | 'create-index-not-concurrently'
  | 'add-column-not-null-no-default'
  | 'destructive-drop'
  | 'session-set-leak'
  | 'session-reset'
  | 'own-transaction-shape';

/** A migration to lint or to learn the schema from. */
export interface LintInput {
  /** Folder name, e.g. `20251216225303_add_debounce_and_delayed_status`. */
  name: string;
  /** The text of migration.sql. */
  sql: string;
  /** Path of migration.sql on disk, when there is one (shown in reports, used by --fix). */
  path?: string;
}

export interface ParsedStatement {
  /** Position in the file's statement list. */
  index: number;
  node: Node;
  /** JS string offsets into the file; the trailing `;` is not included. */
  start: number;
  end: number;
  /** 1-based line where the statement starts. */
  line: number;
  kind: StatementKind;
}

export interface ParsedMigration extends LintInput {
  statements: ParsedStatement[];
  mode: ExecutionMode;
  parseError?: SplitParseError;
}

export interface Finding {
  rule: RuleId;
  severity: Severity;
  migration: string;
  /** `<migration>/migration.sql`, for `file:line` output. */
  file: string;
  line: number;
  /** The statement's first line, shortened. */
  statement: string;
  /** What was found in this statement and what it will do. */
  message: string;
  /** Why the rule exists (the same for every finding of a rule). */
  why: string;
  /** What to do about it. */
  fix: string;
  /** `lint --fix` removes this statement: the linter proved it is generated noise. */
  fixable: boolean;
  /** Index of the statement in its file's statement list (-1 for a file the parser rejects). */
  statementIndex: number;
}

/** The rule-level facts, for findings and for the README. */
export interface RuleInfo {
  id: RuleId;
  severity: Severity;
  title: string;
  why: string;
  fix: string;
}
