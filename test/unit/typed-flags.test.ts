/**
 * Flags are typed from each command's `options` (node:util parseArgs): a command reads its own
 * flags with their types and cannot read another's. The `@ts-expect-error` lines are checked by
 * `pnpm typecheck`, which fails if they stop being errors (as they were with an untyped record).
 */
import { parseArgs } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { deployCommand } from '../../scripts/commands/deploy.js';
import { TARGET_OPTIONS, type Values } from '../../scripts/commands/flags.js';
import { sqlCommand } from '../../scripts/commands/sql.js';

describe('typed flags', () => {
  it("gives sql its own flags with parseArgs' types, and no other command's", () => {
    const options = { ...TARGET_OPTIONS, ...sqlCommand.options };
    const args = ['SELECT $1', '--param', 'a', '--param', 'b', '--csv', '--local', '--max-rows', '5'];
    const parsed = parseArgs({ args, options, allowPositionals: true });
    const values: Values<typeof sqlCommand.options> = parsed.values;
    const params: string[] | undefined = values.param;
    const csv: boolean | undefined = values.csv;
    const maxRows: string | undefined = values['max-rows'];
    const seen = { params, csv, maxRows, local: values.local };
    expect(seen).toEqual({ params: ['a', 'b'], csv: true, maxRows: '5', local: true });
    // @ts-expect-error: --allow-modified is deploy's, not sql's
    expect(values['allow-modified']).toBeUndefined();
    // @ts-expect-error: --param is a list of strings
    const one: string | undefined = values.param;
    expect(one).toEqual(['a', 'b']);
  });

  it("types deploy's booleans as booleans", () => {
    const values: Values<typeof deployCommand.options> = { 'allow-modified': true, 'lock-wait': '3' };
    // @ts-expect-error: a boolean flag holds no string
    const wrong: Values<typeof deployCommand.options> = { 'allow-modified': 'yes' };
    expect([values['allow-modified'], wrong['allow-modified']]).toEqual([true, 'yes']);
  });
});
