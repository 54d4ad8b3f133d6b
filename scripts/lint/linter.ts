/**
 * The linter: walks migrations in apply order over a model of the schema the history built,
 * running every rule on each statement of the files being linted, and learning each statement
 * into the model afterwards. Pure apart from the parser: no fs, pg or AWS.
 */
import type { Node } from 'libpg-query';
import { DEFAULT_SCHEMA, names, objectKey, qualify, relKey, shortStatement, splitKey } from './ast.js';
import type { SqlParser } from '../core/sql-parser.js';
import { parseHistoryFile, parseMigration } from './parse.js';
import { RULES, type Rule } from './rules/index.js';
import type { FileCheck, LintContext, Report } from './rules/rule.js';
import { SchemaModel } from './schema.js';
import type { Finding, LintInput, ParsedMigration, RuleInfo } from './types.js';

export interface LintOptions {
  /**
   * - `batch` (default): the files are applied together by one deploy (the pending ones), so a
   *   table created by an earlier file is new, hence empty, for the later ones.
   * - `each`: every file stands alone against everything before it (`lint --all`, `lint NAME`).
   */
  scope?: 'batch' | 'each';
  /** The schema unqualified names resolve to (default `public`). */
  defaultSchema?: string;
  /** Rules to run (default: all). */
  rules?: readonly Rule[];
  /**
   * {@link lint} only: a model that already holds the first `learned` history files (restored
   * from the parse cache), so only the rest of the history is parsed.
   */
  start?: { model: SchemaModel; learned: number };
  /** {@link lint} only: the model once the history is learned, before the files are linted (and change it). */
  onHistoryLearned?: (model: SchemaModel) => void;
}

export interface LintResult {
  /** In file order, then line order. */
  findings: Finding[];
  /** The linted files, parsed (what `fix` needs). */
  files: ParsedMigration[];
}

/**
 * Lints `files` in order after learning the schema from `history` (the migrations already
 * applied, in apply order).
 *
 * @example
 * const { findings } = lint(await sqlParser(), [{ name: '20250101_add_index', sql }], appliedMigrations);
 * for (const f of findings) console.log(`${f.file}:${f.line} ${f.severity} ${f.rule} ${f.message}`);
 */
export function lint(
  parser: SqlParser,
  files: readonly LintInput[],
  history: readonly LintInput[] = [],
  options: LintOptions = {},
): LintResult {
  const model = options.start?.model ?? new SchemaModel(options.defaultSchema ?? DEFAULT_SCHEMA);
  for (const input of history.slice(options.start?.learned ?? 0)) learn(parser, model, input);
  options.onHistoryLearned?.(model);
  return walk(
    parser,
    files.map((input) => ({ input, check: true })),
    options,
    model,
  );
}

/**
 * Lints the migrations `selected` picks (all by default) out of a whole local history, each
 * against every migration before it, as if it were the only one pending (`scope: 'each'`).
 * Migrations after the last selected one are not read.
 */
export function lintHistory(
  parser: SqlParser,
  migrations: readonly LintInput[],
  selected: (name: string) => boolean = () => true,
  options: Omit<LintOptions, 'scope'> = {},
): LintResult {
  let last = -1;
  migrations.forEach((m, i) => {
    if (selected(m.name)) last = i;
  });
  const sequence = migrations.slice(0, last + 1).map((input) => ({ input, check: selected(input.name) }));
  return walk(parser, sequence, { ...options, scope: 'each' });
}

/** The rules' documentation: id, severity, title, why, fix. */
export function ruleInfo(rules: readonly Rule[] = RULES): RuleInfo[] {
  return rules.map(({ id, severity, title, why, fix }) => ({ id, severity, title, why, fix }));
}

function walk(
  parser: SqlParser,
  sequence: { input: LintInput; check: boolean }[],
  options: LintOptions,
  model = new SchemaModel(options.defaultSchema ?? DEFAULT_SCHEMA),
): LintResult {
  const rules = options.rules ?? RULES;
  const created = new Set<string>();
  const findings: Finding[] = [];
  const files: ParsedMigration[] = [];
  for (const { input, check } of sequence) {
    if (!check) {
      learn(parser, model, input);
      continue;
    }
    if (options.scope === 'each') created.clear();
    const file = parseMigration(parser, input);
    files.push(file);
    const fileFindings = lintFile(file, model, created, rules);
    findings.push(...fileFindings);
  }
  return { findings, files };
}

/** Learns a history file into the model without linting it. */
function learn(parser: SqlParser, model: SchemaModel, input: LintInput): void {
  const statements = parseHistoryFile(parser, input.sql);
  if (statements === null) {
    model.addOpaque(input.sql);
    return;
  }
  for (const s of statements) model.apply(s.node, { migration: input.name, line: s.line });
}

function lintFile(file: ParsedMigration, model: SchemaModel, created: Set<string>, rules: readonly Rule[]): Finding[] {
  const findings: Finding[] = [];
  const ctx: LintContext = { file, model, isNew: (key) => created.has(key) };
  const checks: FileCheck[] = rules.map((rule) => {
    const report: Report = (s, details) => {
      findings.push({
        rule: rule.id,
        severity: rule.severity,
        migration: file.name,
        file: `${file.name}/migration.sql`,
        line: details.line ?? s?.line ?? 1,
        statement: s ? shortStatement(file.sql, s.start, s.end) : '',
        message: details.message,
        why: rule.why,
        fix: details.fix ?? rule.fix,
        fixable: details.fixable === true,
        statementIndex: s ? s.index : -1,
      });
    };
    return rule.start(ctx, report);
  });
  for (const s of file.statements) {
    for (const check of checks) check.statement?.(s);
    noteCreated(s.node, created, model);
    model.apply(s.node, { migration: file.name, line: s.line });
  }
  for (const check of checks) check.end?.();
  if (file.parseError) model.addOpaque(file.sql);
  // Stable order: by line, then in rule order (the order findings were pushed).
  return findings
    .map((f, i) => ({ f, i }))
    .sort((a, b) => a.f.line - b.f.line || a.i - b.i)
    .map(({ f }) => f);
}

/** Tables and types created by the migrations being linted are new: empty, unused. */
function noteCreated(node: Node, created: Set<string>, model: SchemaModel): void {
  const schema = model.defaultSchema;
  let key: string | undefined;
  if ('CreateStmt' in node) key = relKey(node.CreateStmt.relation, schema);
  else if ('CreateTableAsStmt' in node) key = relKey(node.CreateTableAsStmt.into?.rel, schema);
  else if ('CreateEnumStmt' in node) key = qualify(names(node.CreateEnumStmt.typeName), schema);
  else if ('CreateDomainStmt' in node) key = qualify(names(node.CreateDomainStmt.domainname), schema);
  else if (
    'RenameStmt' in node &&
    node.RenameStmt.renameType === 'OBJECT_TABLE' &&
    node.RenameStmt.newname !== undefined
  ) {
    const old = relKey(node.RenameStmt.relation, schema);
    if (old && created.has(old)) key = objectKey(splitKey(old)[0], node.RenameStmt.newname);
  }
  if (key) created.add(key);
}
