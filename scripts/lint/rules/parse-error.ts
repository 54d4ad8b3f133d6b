import type { Rule } from './rule.js';

export const parseError: Rule = {
  id: 'parse-error',
  severity: 'error',
  title: 'PostgreSQL cannot parse the file',
  why:
    "The linter uses PostgreSQL's own parser (libpg-query, " +
    'PostgreSQL 18): a file it rejects fails on the server ' +
    'too, and nothing in it can be checked.',
  fix: 'Fix the SQL at the position shown (run it against a scratch database with psql to see the full error).',
  start(ctx, report) {
    const error = ctx.file.parseError;
    if (error)
      report(null, {
        message: `Syntax error at line ${error.line}, column ${error.column}: ${error.message}.`,
        line: error.line,
      });
    return {};
  },
};
