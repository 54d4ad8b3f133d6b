import type { Node } from 'libpg-query';
import { displayKey, objectKey, objectNames, qualify, relKey, splitKey } from '../ast.js';
import type { ParsedStatement } from '../types.js';
import type { Rule } from './rule.js';

interface PkAdd {
  /** Key of the join table, e.g. `public\0_RoleToUser`. */
  table: string;
  statement: ParsedStatement;
}

/** `ALTER TABLE "_X" ADD CONSTRAINT "_X_AB_pkey" PRIMARY KEY ("A", "B")`, as Prisma generates it. */
function m2mPrimaryKey(node: Node, schema: string): string | undefined {
  if (!('AlterTableStmt' in node)) return undefined;
  const stmt = node.AlterTableStmt;
  const table = stmt.relation?.relname;
  const cmds = stmt.cmds ?? [];
  const only = cmds[0];
  if (!table?.startsWith('_') || cmds.length !== 1 || !only || !('AlterTableCmd' in only)) return undefined;
  const cmd = only.AlterTableCmd;
  const def = cmd.def;
  if (cmd.subtype !== 'AT_AddConstraint' || !def || !('Constraint' in def)) return undefined;
  const con = def.Constraint;
  if (con.contype !== 'CONSTR_PRIMARY' || con.conname !== `${table}_AB_pkey` || con.indexname !== undefined)
    return undefined;
  const keys = (con.keys ?? []).map((k) => ('String' in k ? k.String.sval : undefined));
  if (keys.length !== 2 || keys[0] !== 'A' || keys[1] !== 'B') return undefined;
  return relKey(stmt.relation, schema);
}

/** `DROP INDEX "_X_AB_unique"` (one index): the key of the index. */
function m2mUniqueDrop(node: Node, schema: string): string | undefined {
  if (!('DropStmt' in node)) return undefined;
  const stmt = node.DropStmt;
  const [object, ...more] = stmt.objects ?? [];
  if (stmt.removeType !== 'OBJECT_INDEX' || !object || more.length > 0) return undefined;
  const key = qualify(objectNames(object), schema);
  return key && /^_.*_AB_unique$/.test(splitKey(key)[1]) ? key : undefined;
}

export const prismaM2mChurn: Rule = {
  id: 'prisma-m2m-churn',
  severity: 'warning',
  title: "Prisma's implicit many-to-many churn (`_AB_pkey` / `_AB_unique`)",
  why:
    'Prisma 6 gives implicit many-to-many join tables (`_XToY`) a primary key `_XToY_AB_pkey` instead of the ' +
    'unique index `_XToY_AB_unique`, so after an upgrade `migrate dev` generates this pair for every such table. ' +
    'ADD PRIMARY KEY builds a new index over the whole join table under an ACCESS EXCLUSIVE lock (reads and ' +
    'writes wait), only to drop an index that already enforces the same uniqueness: no change in behaviour.',
  fix:
    'Delete both statements (`lint --fix` does when the pair is complete and the history has the unique index). ' +
    'If you want the new shape, do it deliberately in its own migrations: CREATE UNIQUE INDEX CONCURRENTLY, then ' +
    'ADD CONSTRAINT … PRIMARY KEY USING INDEX, then DROP INDEX CONCURRENTLY the old one.',
  start(ctx, report) {
    const schema = ctx.model.defaultSchema;
    const adds: PkAdd[] = [];
    const drops = new Map<string, ParsedStatement>();
    for (const s of ctx.file.statements) {
      const table = m2mPrimaryKey(s.node, schema);
      if (table) adds.push({ table, statement: s });
      const index = m2mUniqueDrop(s.node, schema);
      if (index) drops.set(index, s);
    }
    const pairs = adds.map((add) => {
      const [tableSchema, tableName] = splitKey(add.table);
      return {
        ...add,
        tableName,
        uniqueKey: objectKey(tableSchema, `${tableName}_AB_unique`),
        pkeyKey: objectKey(tableSchema, `${tableName}_AB_pkey`),
      };
    });
    const handled = new Set<PkAdd>();
    return {
      statement(s) {
        // A pair is judged at its first statement, on the schema as it was before either ran.
        const pair = pairs.find((p) => !handled.has(p) && (p.statement === s || drops.get(p.uniqueKey) === s));
        if (pair) {
          handled.add(pair);
          const { tableName } = pair;
          const table = displayKey(pair.table, schema);
          const drop = drops.get(pair.uniqueKey);
          if (!drop) {
            report(s, {
              message:
                `Adds ${tableName}_AB_pkey to the join table ${table} ` +
                `like Prisma's many-to-many churn, but without the matching ` +
                `DROP INDEX "${tableName}_AB_unique": it cannot be proven ` +
                `to be generated noise.`,
            });
            return;
          }
          // Proven when the history either does not know the table (no history given) or shows
          // the unique index the pair replaces and no primary key yet.
          const known =
            ctx.model.tables.has(pair.table) || [...ctx.model.indexes.values()].some((i) => i.table === pair.table);
          const unique = ctx.model.indexes.get(pair.uniqueKey);
          const proven =
            !ctx.isNew(pair.table) &&
            (!known || (unique?.table === pair.table && !ctx.model.indexes.has(pair.pkeyKey)));
          const reason = proven
            ? ''
            : ctx.isNew(pair.table)
              ? ` ${table} is created by the migrations being linted, so this is not an upgrade's churn.`
              : unique?.table !== pair.table
                ? ` The history does not create "${tableName}_AB_unique" ` +
                  `on ${table}, so it cannot be proven to be noise.`
                : ` The history already has "${tableName}_AB_pkey", so it cannot be proven to be noise.`;
          report(pair.statement, {
            message:
              `Prisma's many-to-many churn on ${table}: ADD PRIMARY ` +
              `KEY "${tableName}_AB_pkey", paired with DROP INDEX ` +
              `"${tableName}_AB_unique" at line ${drop.line}.${reason}`,
            fixable: proven,
          });
          report(drop, {
            message:
              `Prisma's many-to-many churn on ${table}: DROP INDEX ` +
              `"${tableName}_AB_unique", paired with ADD PRIMARY KEY ` +
              `"${tableName}_AB_pkey" at line ${pair.statement.line}.` +
              `${reason}`,
            fixable: proven,
          });
          return;
        }
        for (const [index, drop] of drops) {
          if (drop !== s || pairs.some((p) => p.uniqueKey === index)) continue;
          report(s, {
            message:
              `Drops "${splitKey(index)[1]}", the unique index of ` +
              `an implicit many-to-many table, without Prisma's matching ` +
              `ADD PRIMARY KEY: the join table loses its uniqueness.`,
          });
        }
      },
    };
  },
};
