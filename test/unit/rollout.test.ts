/** The rollout's pure parts: the targets file's schema, the stages, the scheduler, the progress line. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { ErrorCode, MigrateError } from '../../lambda/contract/index.js';
import type { Worker } from '../../scripts/core/worker-client.js';
import { driftMatrix } from '../../scripts/rollout/drift-matrix.js';
import { initialEntries, planStages, resumeWarnings } from '../../scripts/rollout/plan.js';
import { changeLine, progressLine, rolloutProgress } from '../../scripts/rollout/progress.js';
import { countStatuses, finish, type RolloutReport } from '../../scripts/rollout/report.js';
import { writeReport } from '../../scripts/rollout/report-file.js';
import { schedule } from '../../scripts/rollout/schedule.js';
import { statusMatrix } from '../../scripts/rollout/status-matrix.js';
import {
  checkTargetsReachable,
  onTarget,
  parseTargets,
  type RolloutTarget,
  readTargetsFile,
  type TargetWorkers,
} from '../../scripts/rollout/targets.js';

function refusal(text: string): MigrateError {
  try {
    parseTargets(text, 'targets.json');
  } catch (error) {
    return error as MigrateError;
  }
  throw new Error('accepted');
}

const local = (n: number): RolloutTarget[] =>
  Array.from({ length: n }, (_, i) => ({ kind: 'local', name: `t${i + 1}`, databaseUrl: `postgresql://h/d${i}` }));

describe('targets file', () => {
  it('accepts the scripted shape and deployed workers, with or without a database selector', () => {
    const targets = parseTargets(
      JSON.stringify({
        targets: [
          { name: 't01', databaseUrl: 'postgresql://u:p@h/db1' },
          { name: 'eu', function: 'vpc-migrate', region: 'eu-west-1', profile: 'prod' },
          { name: 'us', stack: 'MigrateStack', region: 'us-east-1' },
          { name: 'acme', function: 'vpc-migrate', database: 'acme' },
        ],
      }),
      'targets.json',
    );
    expect(targets.map((t) => [t.name, t.kind])).toEqual([
      ['t01', 'local'],
      ['eu', 'deployed'],
      ['us', 'deployed'],
      ['acme', 'deployed'],
    ]);
    expect(targets[3]).toMatchObject({ function: 'vpc-migrate', database: 'acme' });
  });

  it('lists every problem with the entry index and name, and a next step; passwords redacted', () => {
    const e = refusal(
      JSON.stringify({
        targets: [
          { name: 'a', databaseUrl: 'mysql://u:hunter2@h/db' },
          { name: 'b' },
          { name: 'a', function: 'f' },
          { name: 'c', function: 'f', stack: 's', colour: 'red' },
          { name: 'bad name', function: 'f' },
          { name: 'd', databaseUrl: 'postgresql://h/d', region: 'eu-west-1' },
          { name: 'e', function: 'f', database: 'no/such' },
        ],
      }),
    );
    expect(e.code).toBe('VPCM_TARGETS_INVALID');
    expect(e.message).toContain('targets[0] ("a"): "databaseUrl" must start with postgresql://');
    expect(e.message).toContain('targets[1] ("b"): say how to reach it');
    expect(e.message).toContain('targets[2] ("a"): the name is already used by targets[0]');
    expect(e.message).toContain('targets[3] ("c"): unknown key(s): colour');
    expect(e.message).toContain('targets[3] ("c"): give only one of "function", "stack"');
    expect(e.message).toContain('targets[4]: "name" must be');
    expect(e.message).toContain(
      'targets[5] ("d"): "databaseUrl" is for --local; "region" belongs to a deployed worker',
    );
    // A selector no worker could accept: refused with the file, not when that target's turn comes.
    expect(e.message).toContain('targets[6] ("e"): "database" must be 1-128 letters, digits');
    expect(e.message).not.toContain('hunter2');
    expect(e.remedy).toBe('Fix targets.json and run the command again (docs/many-databases.md lists the fields).');
  });

  it('refuses what is not a targets file', () => {
    expect(refusal('{').message).toContain('not JSON');
    // YAML is read only by readTargetsFile (its parser loads lazily): parseTargets alone reads JSON.
    expect(() => parseTargets('targets:\n  - name: t01\n', 'targets.json')).toThrow(/not JSON/);
    expect(refusal('[]').message).toContain('"targets" array');
    expect(refusal('{"targets": []}').message).toContain('"targets" is empty');
    expect(refusal('{"targets": [], "x": 1}').message).toContain('unknown top-level key(s): x');
  });

  it('reads a .yaml or .yml file as YAML, with the same checks, duplicate keys refused', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'vpcm-targets-'));
    try {
      const file = path.join(dir, 'targets.yaml');
      await writeFile(
        file,
        '# tenants\ntargets:\n  - name: t01\n    databaseUrl: postgresql://u:hunter2@h/t01\n' +
          '  - name: eu\n    function: vpc-migrate\n    region: eu-west-1\n',
      );
      expect(await readTargetsFile(file)).toEqual([
        { kind: 'local', name: 't01', databaseUrl: 'postgresql://u:hunter2@h/t01' },
        { kind: 'deployed', name: 'eu', function: 'vpc-migrate', region: 'eu-west-1' },
      ]);
      const bad = path.join(dir, 'targets.yml');
      await writeFile(bad, 'targets:\n  - name: t01\n    name: t02\n    databaseUrl: postgresql://h/t\n');
      await expect(readTargetsFile(bad)).rejects.toThrow(/not YAML \(Map keys must be unique at line 3/);
      await writeFile(bad, 'targets:\n  - name: t01\n    colour: red\n');
      await expect(readTargetsFile(bad)).rejects.toThrow(/targets\[0\] \("t01"\): unknown key\(s\): colour/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses local entries without --local, and deployed ones with it', () => {
    expect(() => checkTargetsReachable(local(2), false)).toThrow(/only the local worker \(--local\)/);
    expect(() => checkTargetsReachable([{ kind: 'deployed', name: 'x', function: 'f' }], true)).toThrow(
      /--local serves only "databaseUrl" entries/,
    );
    expect(() => checkTargetsReachable(local(2), true)).not.toThrow();
  });
});

describe("a target's remedies", () => {
  it("name the target's own flags in each printed command, never its password", () => {
    const remedy = 'Fix the SQL, then `vpc-migrate resolve --rolled-back 002_x` and deploy again.';
    const local: RolloutTarget = { kind: 'local', name: 't1', databaseUrl: 'postgresql://app:s3cret@db:5432/t1' };
    expect(onTarget(remedy, local)).toBe(
      'Fix the SQL, then `vpc-migrate resolve --rolled-back 002_x ' +
        '--local --database-url postgresql://app@db:5432/t1` and deploy again.',
    );
    const deployed: RolloutTarget = {
      kind: 'deployed',
      name: 'acme',
      function: 'w',
      region: 'eu-west-1',
      database: 'acme',
    };
    expect(onTarget(remedy, deployed)).toContain(
      '`vpc-migrate resolve --rolled-back 002_x --function w --region eu-west-1 --database acme`',
    );
  });
});

describe('stages', () => {
  it('--canary N takes the first N; --canary-target names them', () => {
    const targets = local(5);
    const byCount = planStages(targets, { canary: 2 });
    expect(byCount.canary.map((t) => t.name)).toEqual(['t1', 't2']);
    expect(byCount.rest.map((t) => t.name)).toEqual(['t3', 't4', 't5']);
    const byName = planStages(targets, { canary: 1, canaryTargets: ['t4'] });
    expect(byName.canary.map((t) => t.name)).toEqual(['t4']);
    expect(byName.rest.map((t) => t.name)).toEqual(['t1', 't2', 't3', 't5']);
    expect(() => planStages(targets, { canary: 1, canaryTargets: ['nope'] })).toThrow(/names no target/);
  });

  it('--resume runs only what did not succeed; succeeded ones are carried', () => {
    const targets = local(5);
    const statuses = ['succeeded', 'failed', 'running', 'skipped', 'succeeded'] as const;
    const resume = {
      targets: statuses.map((status, i) => ({ name: `t${i + 1}`, status })),
    } as unknown as RolloutReport;
    const plan = planStages(targets, { canary: 1, resume });
    expect(plan.carried.map((t) => [t.name, t.carried])).toEqual([
      ['t1', true],
      ['t5', true],
    ]);
    expect(plan.canary.map((t) => t.name)).toEqual(['t2']);
    expect(plan.rest.map((t) => t.name)).toEqual(['t3', 't4']);
    expect(plan.dropped).toEqual([]);
    // A target gone from the file is left out, and said so.
    const shorter = planStages(targets.slice(0, 4), { canary: 1, resume: { ...resume, migrationsDir: 'm' } });
    expect(shorter.dropped).toEqual(['t5']);
    expect(resumeWarnings(shorter, { ...resume, migrationsDir: 'm' }, 'm')).toEqual([
      'The resumed report names 1 target(s) the targets file no longer has (t5): they are left out.',
    ]);
    expect(initialEntries(plan).map((e) => [e.name, e.status, e.stage])).toEqual([
      ['t1', 'succeeded', undefined],
      ['t5', 'succeeded', undefined],
      ['t2', 'pending', 'canary'],
      ['t3', 'pending', 'rest'],
      ['t4', 'pending', 'rest'],
    ]);
  });
});

describe('scheduler', () => {
  /** Runs targets whose names are in `failing` as failures, recording the order they started in. */
  function runner(failing: string[]) {
    const started: string[] = [];
    return {
      started,
      runOne: async (t: RolloutTarget) => {
        started.push(t.name);
        // A failure answers at once, a success a turn of the event loop later: t3 fails while t2 still runs.
        if (failing.includes(t.name)) return { ok: false };
        await new Promise((resolve) => setImmediate(resolve));
        return { ok: true };
      },
    };
  }

  it('a failed canary stops everything', async () => {
    const [canary, ...rest] = local(5);
    const r = runner(['t1']);
    const stopped = await schedule([canary!], rest, { concurrency: 2, maxFailures: 3, ...r });
    expect(stopped).toMatch(/canary stage failed/);
    expect(r.started).toEqual(['t1']);
  });

  it('--max-failures 0: no target starts after the first failure; running ones finish', async () => {
    const [canary, ...rest] = local(10);
    const r = runner(['t3']);
    const stopped = await schedule([canary!], rest, { concurrency: 2, maxFailures: 0, ...r });
    expect(stopped).toMatch(/1 target\(s\) failed, more than --max-failures 0/);
    // t2 and t3 start together; t3 fails while t2 runs, so t2's lane starts nothing after it.
    expect(r.started).toEqual(['t1', 't2', 't3']);
  });

  it('--max-failures N tolerates N failures', async () => {
    const [canary, ...rest] = local(6);
    const r = runner(['t2', 't3']);
    expect(await schedule([canary!], rest, { concurrency: 1, maxFailures: 2, ...r })).toBeUndefined();
    expect(r.started).toHaveLength(6);
  });

  it('a signal stops the scheduling: nothing starts after it, its reason is the outcome', async () => {
    const r = runner([]);
    let signal: string | undefined;
    const runOne = async (t: RolloutTarget) => {
      if (t.name === 't3') signal = 'interrupted (SIGINT)';
      return r.runOne(t);
    };
    const [canary, ...rest] = local(8);
    const stopped = await schedule([canary!], rest, { concurrency: 1, maxFailures: 0, runOne, stopped: () => signal });
    expect(stopped).toBe('interrupted (SIGINT)');
    expect(r.started).toEqual(['t1', 't2', 't3']);
  });

  it('never runs more than --concurrency at once', async () => {
    let running = 0;
    let most = 0;
    const runOne = async () => {
      most = Math.max(most, ++running);
      await new Promise((resolve) => setImmediate(resolve));
      running--;
      return { ok: true };
    };
    await schedule([], local(12), { concurrency: 3, maxFailures: 0, runOne });
    expect(most).toBe(3);
  });
});

describe('report and progress', () => {
  const base = (): RolloutReport => ({
    command: 'rollout',
    reportVersion: 1,
    targetsFile: 't.json',
    migrationsDir: 'm',
    reportFile: 'r.json',
    startedAt: '2026-12-06T20:00:00.000Z',
    concurrency: 2,
    maxFailures: 0,
    canary: ['a'],
    warnings: [],
    state: 'running',
    targets: [
      { name: 'a', via: 'x', stage: 'canary', status: 'succeeded', applied: ['001'], pending: [], durationMs: 1500 },
      {
        name: 'b',
        via: 'x',
        stage: 'rest',
        status: 'running',
        applied: [],
        pending: [],
        startedAt: '2026-12-06T20:00:01.000Z',
      },
      { name: 'c', via: 'x', stage: 'rest', status: 'failed', applied: [], pending: ['001'] },
      { name: 'd', via: 'x', stage: 'rest', status: 'pending', applied: [], pending: [] },
    ],
    counts: countStatuses([]),
    durationMs: 0,
    exitCode: 2,
  });

  it('the live line names done, running, failed, left and the slowest running target', () => {
    expect(progressLine(base(), Date.parse('2026-12-06T20:00:05.000Z'))).toBe(
      'Rollout: 1 done, 1 running, 1 failed, 1 left; slowest b 4.0 s',
    );
    expect(changeLine(base().targets[0]!)).toBe('[a] up to date: 1 applied (1.5 s)');
  });

  it('a terminal gets one redrawn line (failures kept above it); a pipe or CI gets plain lines', () => {
    const out: string[] = [];
    const stream = (isTTY: boolean) => ({ isTTY, write: (text: string) => out.push(text) });
    const r = base();
    const live = rolloutProgress(stream(true), {}, false);
    live.changed(r, r.targets[2]!);
    live.end();
    expect(out.join('')).toContain('\r\x1b[2K[c] failed: ?\n');
    expect(out.join('')).toMatch(/\r\x1b\[2KRollout: 1 done, 1 running, 1 failed, 1 left; slowest b [0-9.]+ s\n$/);
    out.length = 0;
    const plain = rolloutProgress(stream(true), { CI: 'true' }, false);
    plain.changed(r, r.targets[0]!);
    plain.changed(r, r.targets[3]!);
    expect(out).toEqual(['[a] up to date: 1 applied (1.5 s)\n']);
  });

  it('plain lines: after a minute without one, the summary line (a CI log must not look hung)', () => {
    vi.useFakeTimers({ now: Date.parse('2026-12-06T20:00:02.000Z') });
    try {
      const out: string[] = [];
      const plain = rolloutProgress({ isTTY: false, write: (text: string) => out.push(text) }, {}, false);
      const r = base();
      plain.changed(r, r.targets[1]!);
      out.length = 0;
      vi.advanceTimersByTime(59_000);
      expect(out).toEqual([]);
      vi.advanceTimersByTime(16_000);
      expect(out).toEqual(['Rollout: 1 done, 1 running, 1 failed, 1 left; slowest b 61.0 s\n']);
      plain.end();
    } finally {
      vi.useRealTimers();
    }
  });

  it('finishing a stopped rollout marks what never started as skipped, exit 2', () => {
    const r = base();
    r.targets[1]!.status = 'succeeded';
    finish(r, 'the canary stage failed (1 of 1)', new Date('2026-12-06T20:00:10.000Z'));
    expect(r.targets[3]).toMatchObject({ status: 'skipped', reason: 'the canary stage failed (1 of 1)' });
    expect(r).toMatchObject({ state: 'stopped', exitCode: 2, durationMs: 10_000 });
    expect(r.stopReason).toBe('the canary stage failed (1 of 1)');
    expect(r.counts).toEqual({ pending: 0, running: 0, succeeded: 2, failed: 1, skipped: 1 });
  });

  it('an interrupted rollout with no failure says to continue, not to fix what failed', () => {
    const r = base();
    r.targets[1]!.status = 'succeeded';
    r.targets[2]!.status = 'succeeded';
    finish(r, 'interrupted (SIGINT)', new Date('2026-12-06T20:00:10.000Z'));
    expect(r).toMatchObject({ state: 'stopped', exitCode: 2 });
    expect(r.next).toMatch(/^Continue with `vpc-migrate deploy --resume r.json`/);
    const failed = base();
    finish(failed, 'interrupted (SIGINT)', new Date('2026-12-06T20:00:10.000Z'));
    expect(failed.next).toMatch(/^Fix what failed, then run `vpc-migrate deploy --resume r.json`/);
  });

  it('a resumed rollout that succeeded says which targets it carried over without deploying them', () => {
    const r = base();
    r.targets = r.targets.map((t) => ({ ...t, status: 'succeeded' as const }));
    r.targets[0]!.carried = true;
    finish(r, undefined, new Date('2026-12-06T20:00:10.000Z'));
    expect(r).toMatchObject({ state: 'succeeded', exitCode: 0 });
    expect(r.next).toMatch(/^1 target\(s\) were carried over .* `vpc-migrate status --targets t.json` checks/);
    const fresh = base();
    fresh.targets = fresh.targets.map((t) => ({ ...t, status: 'succeeded' as const }));
    finish(fresh, undefined, new Date('2026-12-06T20:00:10.000Z'));
    expect(fresh.next).toBeUndefined();
  });

  it('a failure budget spent by the last target to start leaves nothing skipped: failed, not stopped', () => {
    const r = base();
    r.targets[1]!.status = 'succeeded';
    r.targets[3]!.status = 'succeeded';
    finish(r, '1 target(s) failed, more than --max-failures 0', new Date('2026-12-06T20:00:10.000Z'));
    expect(r).toMatchObject({ state: 'failed', exitCode: 2 });
    expect(r.stopReason).toBeUndefined();
    expect(r.next).toContain('--resume r.json');
    expect(r.counts).toEqual({ pending: 0, running: 0, succeeded: 3, failed: 1, skipped: 0 });
  });
});

describe("the matrices keep each problem's next step, on the target's own flags", () => {
  // The matrices only hand the worker to the per-target command, which answers here without one.
  const workers: TargetWorkers = {
    use: (_target, work) => work(undefined as unknown as Worker),
    close: async () => {},
  };
  const targets = local(2);
  const failed = {
    code: ErrorCode.FailedMigrationInLedger,
    message: 'failed',
    remedy: 'Run `vpc-migrate resolve --rolled-back 002_x`.',
  };
  const unreachable = new MigrateError(ErrorCode.DatabaseNotAllowed, 'no', 'Run `vpc-migrate status`.');
  let call = 0;
  const answer =
    <T>(ok: T) =>
    async () => {
      if (call++ % 2 === 1) throw unreachable;
      return ok;
    };

  it('status --targets', async () => {
    call = 0;
    const outcome = { exitCode: 2 as const, plan: { pending: [], failed: [{ name: '002_x' }], problems: [failed] } };
    const m = await statusMatrix({
      targets,
      targetsFile: 't',
      migrationsDir: 'm',
      workers,
      concurrency: 1,
      status: answer(outcome),
    });
    expect(m.rows[0]!.problems[0]!.remedy).toBe(
      'Run `vpc-migrate resolve --rolled-back 002_x --local --database-url postgresql://h/d0`.',
    );
    expect(m.rows[1]!.problems[0]!.remedy).toBe('Run `vpc-migrate status --local --database-url postgresql://h/d1`.');
  });

  it('drift --targets', async () => {
    call = 0;
    const outcome = { exitCode: 2 as const, differences: [], findings: [failed], problems: [] };
    const m = await driftMatrix({
      targets,
      targetsFile: 't',
      migrationsDir: 'm',
      workers,
      concurrency: 1,
      drift: answer(outcome),
    });
    expect(m.rows[0]!.problems[0]!.remedy).toContain('--rolled-back 002_x --local --database-url postgresql://h/d0`');
    expect(m.rows[1]!.problems[0]!.remedy).toBe('Run `vpc-migrate status --local --database-url postgresql://h/d1`.');
  });
});

describe('the report file', () => {
  it('under a parent that is a file: the typed refusal, not an internal error', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'vpcm-report-'));
    try {
      const file = path.join(dir, 'plain');
      await writeFile(file, 'x');
      const report = { command: 'rollout', targets: [] } as unknown as RolloutReport;
      expect(() => writeReport(path.join(file, 'r.json'), report)).toThrow(
        expect.objectContaining({ code: 'VPCM_ROLLOUT_REPORT_INVALID' }),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
