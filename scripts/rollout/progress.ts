/**
 * What a person (or a CI log) sees while a rollout runs. On a terminal: one line, redrawn,
 * with targets done / running / failed / left and the slowest running one. Elsewhere (a pipe,
 * CI): one plain line per target that starts or ends, nothing redrawn.
 */
import { visible } from '../render/escape.js';
import { countStatuses, type RolloutReport, type TargetEntry } from './report.js';

export interface RolloutProgress {
  /** Before the first target: where the report goes (found again when the CLI is killed). */
  start(report: RolloutReport): void;
  /** `entry` just changed status. */
  changed(report: RolloutReport, entry: TargetEntry): void;
  /** Clears the live line before the final report is printed. */
  end(): void;
}

/** The live line's text: pure, for the tests and for both displays. */
export function progressLine(report: RolloutReport, now: number): string {
  const c = countStatuses(report.targets);
  const running = report.targets.filter((t) => t.status === 'running' && t.startedAt);
  const slowest = running.sort((a, b) => Date.parse(a.startedAt!) - Date.parse(b.startedAt!))[0];
  const slow = slowest ? `; slowest ${slowest.name} ${seconds(now - Date.parse(slowest.startedAt!))}` : '';
  return (
    `Rollout: ${c.succeeded} done, ${c.running} running, ${c.failed} failed, ` +
    `${c.pending} left${c.skipped ? `, ${c.skipped} skipped` : ''}${slow}`
  );
}

/** One plain line for a status change (not a terminal). */
export function changeLine(entry: TargetEntry): string | undefined {
  switch (entry.status) {
    case 'running':
      return `[${entry.name}] ${entry.stage === 'canary' ? 'canary ' : ''}started`;
    case 'succeeded':
      return `[${entry.name}] up to date: ${entry.applied.length} applied (${seconds(entry.durationMs ?? 0)})`;
    case 'failed':
      // The database's message is anyone's bytes (a table name may hold an escape sequence).
      return `[${entry.name}] failed: ${entry.error?.code ?? '?'} ${visible(entry.error?.message ?? '')}`.trimEnd();
    default:
      return undefined;
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Plain lines: the longest silence while targets run. */
const HEARTBEAT_MS = 60_000;

/** The display for `stream`: live on a terminal (unless CI is set), plain lines otherwise. */
export function rolloutProgress(
  stream: { isTTY?: boolean; write(text: string): unknown },
  env: NodeJS.ProcessEnv,
  quiet: boolean,
): RolloutProgress {
  const start = (r: RolloutReport) =>
    stream.write(
      `Rollout to ${r.targets.length} target(s)` +
        `${r.canary.length > 0 ? `, canary ${r.canary.join(', ')}` : ''}; report: ${r.reportFile}\n` +
        r.warnings.map((w) => `warning: ${w}\n`).join(''),
    );
  if (quiet) return { start: () => undefined, changed: () => undefined, end: () => undefined };
  if (!stream.isTTY || env.CI) {
    // A CI log that stays silent for minutes looks hung (some runners kill such a job): a target
    // that runs long gets the summary line once a minute while nothing else is printed.
    let last: RolloutReport | undefined;
    let wrote = Date.now();
    const say = (line: string) => {
      stream.write(line + '\n');
      wrote = Date.now();
    };
    const timer = setInterval(() => {
      if (last && Date.now() - wrote >= HEARTBEAT_MS) say(progressLine(last, Date.now()));
    }, HEARTBEAT_MS / 4);
    timer.unref();
    return {
      start,
      changed: (report, entry) => {
        last = report;
        const line = changeLine(entry);
        if (line) say(line);
      },
      end: () => clearInterval(timer),
    };
  }
  let last: RolloutReport | undefined;
  const draw = () => last && stream.write(`\r\x1b[2K${progressLine(last, Date.now())}`);
  // Redrawn each second as well, so the slowest target's time moves while nothing else does.
  const timer = setInterval(draw, 1000);
  timer.unref();
  return {
    start,
    changed(report, entry) {
      last = report;
      // A failure stays on screen above the live line.
      if (entry.status === 'failed') stream.write(`\r\x1b[2K${changeLine(entry)}\n`);
      draw();
    },
    end() {
      clearInterval(timer);
      if (last) stream.write(`\r\x1b[2K${progressLine(last, Date.now())}\n`);
    },
  };
}
