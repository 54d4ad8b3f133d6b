/**
 * The text of any command's report, chosen by its `command` field: cli.ts prints this, or the
 * report itself as JSON with --json. Every text renderer is in this folder.
 */
import { readFile } from 'node:fs/promises';
import type { BackfillReport } from '../commands/backfill.js';
import type { BaselineReport } from '../commands/baseline.js';
import type { DeployReport } from '../commands/deploy.js';
import type { LintReport } from '../commands/lint.js';
import type { RehearseReport } from '../commands/rehearse.js';
import type { ResolveReport } from '../commands/resolve.js';
import type { SqlReport } from '../commands/sql.js';
import type { StatusReport } from '../commands/status.js';
import type { RolloutReport } from '../rollout/report.js';
import type { StatusMatrixReport } from '../rollout/status-matrix.js';
import { renderBackfill } from './backfill.js';
import { renderBaseline } from './baseline.js';
import { renderDeploy } from './deploy.js';
import { renderLint } from './lint.js';
import { renderRehearse } from './rehearse.js';
import { renderResolve } from './resolve.js';
import { renderRollout, renderStatusMatrix } from './rollout.js';
import { visibleText as visible } from './rows.js';
import { renderSql, sqlFooter } from './sql.js';
import { renderStatus } from './status.js';

/** Every command's report, told apart by its `command` literal: the switch below needs no cast. */
export type Report =
  | DeployReport
  | StatusReport
  | LintReport
  | SqlReport
  | ResolveReport
  | RehearseReport
  | BackfillReport
  | BaselineReport
  | RolloutReport
  | StatusMatrixReport;

/** `values` are the run's flags (`sql --csv`); `progress` is stderr, where CSV output puts what is not rows. */
export async function renderReport(
  r: Report,
  values: { readonly csv?: boolean },
  progress: (line: string) => void,
): Promise<string> {
  switch (r.command) {
    case 'deploy':
      return renderDeploy(r);
    case 'status':
      return renderStatus(r);
    case 'rollout':
      return renderRollout(r);
    case 'status-targets':
      return renderStatusMatrix(r);
    case 'lint':
      return renderLint(r);
    case 'resolve':
      return renderResolve(r);
    case 'baseline':
      return renderBaseline(r);
    case 'rehearse':
      return renderRehearse(r);
    case 'sql': {
      const csv = values.csv === true;
      if (csv && r.result) {
        for (const n of r.result.notices) progress(visible(n));
        progress(sqlFooter(r.result));
      }
      return renderSql(r, csv ? 'csv' : 'table');
    }
    case 'backfill': {
      // The caret under a failed statement needs the file's text, which the report does not carry.
      const sql = r.status === 'failed' ? await readFile(r.file, 'utf8').catch(() => undefined) : undefined;
      return renderBackfill(r, sql);
    }
  }
}
