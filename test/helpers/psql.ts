/**
 * The reference a migration folder is compared with: what psql makes of it on a fresh database.
 * `/usr/bin/psql` when the machine has one (`psql -X -v ON_ERROR_STOP=1 -f`, one session per
 * file, as a person applying the history by hand would); otherwise the same thing psql does,
 * done with pg: the file split into top-level statements by PostgreSQL's own parser, each sent
 * as its own simple query in autocommit, stopping at the first error.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { sqlParser } from '../../scripts/core/sql-parser.js';
import { splitMigration } from '../../scripts/core/split.js';
import { withClient } from './db.js';

const run = promisify(execFile);
const PSQL = '/usr/bin/psql';

export type ReferenceMethod = 'psql' | 'statement-by-statement';

/** Applies every `<name>/migration.sql` under `dir`, in byte order of the names. */
export async function applyLikePsql(url: string, dir: string): Promise<ReferenceMethod> {
  const names = (await readdir(dir, { withFileTypes: true }))
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const method: ReferenceMethod = existsSync(PSQL) ? 'psql' : 'statement-by-statement';
  for (const name of names) {
    const file = path.join(dir, name, 'migration.sql');
    if (method === 'psql') {
      await run(PSQL, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '--dbname', url, '-f', file], {
        env: { ...process.env, PGOPTIONS: '-c client_min_messages=warning' },
      });
      continue;
    }
    const sql = await readFile(file, 'utf8');
    await withClient(url, async (client) => {
      for (const s of splitMigration(await sqlParser(), sql).statements) await client.query(sql.slice(s.start, s.end));
    });
  }
  return method;
}

/** Runs each named file as a hand-run tool might: the whole text as one simple query, with no ledger row. */
export async function applyByOtherMeans(url: string, dir: string, names: string[]): Promise<void> {
  await withClient(url, async (client) => {
    for (const name of names) await client.query(await readFile(path.join(dir, name, 'migration.sql'), 'utf8'));
  });
}
