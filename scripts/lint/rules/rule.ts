/** The shape every rule module has. */
import type { SchemaModel } from '../schema.js';
import type { ParsedMigration, ParsedStatement, RuleInfo } from '../types.js';

export interface LintContext {
  readonly file: ParsedMigration;
  /** The schema as it is just before the statement being checked. */
  readonly model: SchemaModel;
  /**
   * Whether the table (or type) was created by the migrations linted together with this one,
   * this file included up to the current statement: it is new, so empty and unused.
   */
  isNew(key: string): boolean;
}

export interface ReportDetails {
  message: string;
  /** Proven generated noise that `lint --fix` may remove. */
  fixable?: boolean;
  /** Overrides the rule's fix text for this finding. */
  fix?: string;
  /** Overrides the statement's line (e.g. a parse error's position). */
  line?: number;
}

/** Reports a finding on a statement (`null`: on the file, e.g. one the parser rejects). */
export type Report = (statement: ParsedStatement | null, details: ReportDetails) => void;

export interface FileCheck {
  /** Called for each statement in order, before the model applies it. */
  statement?(s: ParsedStatement): void;
  /** Called after the file's last statement. */
  end?(): void;
}

export interface Rule extends RuleInfo {
  start(ctx: LintContext, report: Report): FileCheck;
}

/**
 * `start` for a rule that judges each statement on its own, against the schema the history built
 * (names without a schema are in `schema`, the target's default).
 */
export function eachStatement(
  check: (s: ParsedStatement, ctx: LintContext, report: Report, schema: string) => void,
): Rule['start'] {
  return (ctx, report) => {
    const schema = ctx.model.defaultSchema;
    return { statement: (s) => check(s, ctx, report, schema) };
  };
}
