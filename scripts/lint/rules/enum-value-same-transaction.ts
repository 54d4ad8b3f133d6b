import { displayKey, names, qualify, references, relKey, typeKey } from '../ast.js';
import type { Rule } from './rule.js';

interface NewValue {
  type: string;
  line: number;
}

export const enumValueSameTransaction: Rule = {
  id: 'enum-value-same-transaction',
  severity: 'error',
  title: 'A new enum value is used in the transaction that adds it',
  why:
    'PostgreSQL lets ALTER TYPE … ADD VALUE run in a transaction (since 12), but the new value cannot be used ' +
    'until that transaction commits: a default, cast, comparison or INSERT/UPDATE with it fails with 55P04 ' +
    '"unsafe use of new value". A migration.sql runs as one transaction, so using the value in the same file fails.',
  fix:
    'Keep the ALTER TYPE … ADD VALUE in its own migration ' +
    'and move the statements that use the value into the ' +
    'next migration folder (deploy runs each file in its ' +
    'own transaction).',
  start(ctx, report) {
    const added = new Map<string, NewValue[]>();
    // Values of a type created in the same transaction are safe (PostgreSQL's check_safe_enum_use).
    const createdHere = new Set<string>();
    const schema = ctx.model.defaultSchema;
    return {
      statement(s) {
        const node = s.node;
        if (s.kind === 'commit') {
          added.clear();
          createdHere.clear();
          return;
        }
        if ('CreateEnumStmt' in node) {
          const key = qualify(names(node.CreateEnumStmt.typeName), schema);
          if (key) createdHere.add(key);
          return;
        }
        if ('AlterEnumStmt' in node) {
          const { newVal, oldVal } = node.AlterEnumStmt;
          const type = qualify(names(node.AlterEnumStmt.typeName), schema);
          if (newVal !== undefined && oldVal === undefined && type && !createdHere.has(type)) {
            const list = added.get(newVal) ?? [];
            list.push({ type, line: s.line });
            added.set(newVal, list);
          }
          return;
        }
        if (added.size === 0 || 'CreateFunctionStmt' in node) return;

        if ('DoStmt' in node) {
          const body = JSON.stringify(node.DoStmt.args ?? []);
          for (const [value, adds] of added) {
            if (body.includes(`'${value.replaceAll("'", "''")}'`)) {
              const first = adds[0]!;
              report(s, {
                message:
                  `The DO block uses '${value}', which line ${first.line} ` +
                  `adds to ${displayKey(first.type, schema)} in the same ` +
                  `transaction (55P04 "unsafe use of new value").`,
              });
            }
          }
          return;
        }

        const refs = references(node);
        const types = new Set(refs.types.map((t) => typeKey(t, schema)));
        const tables = new Set(refs.relations.map((r) => relKey(r, schema)));
        for (const value of refs.strings) {
          for (const add of added.get(value) ?? []) {
            const viaType = types.has(add.type);
            const viaColumn = [...ctx.model.columnsOfType(add.type).keys()].find((t) => tables.has(t));
            if (!viaType && viaColumn === undefined) continue;
            const where = viaType
              ? `as ${displayKey(add.type, schema)}`
              : `with a ${displayKey(add.type, schema)} column of ${displayKey(viaColumn!, schema)}`;
            report(s, {
              message:
                `Uses '${value}' ${where}, but line ${add.line} adds ` +
                `that value in the same transaction: PostgreSQL fails ` +
                `with 55P04 "unsafe use of new value".`,
            });
            break;
          }
        }
      },
    };
  },
};
