/**
 * The targets file of a rollout (`--targets FILE`): the databases one `deploy` or `status` runs
 * against, each named, each reached one of three ways. The team keeps it in its repository, and
 * scripts may write it, so the schema is strict and every problem is reported at once, with the
 * entry's index and name.
 *
 * ```json
 * {"targets": [
 *   {"name": "t01", "databaseUrl": "postgresql://…"},                         // with --local
 *   {"name": "eu", "function": "vpc-migrate", "region": "eu-west-1", "profile": "prod"},
 *   {"name": "us", "stack": "MigrateStack", "region": "us-east-1"},
 *   {"name": "acme", "function": "vpc-migrate", "database": "acme"}            // the worker's selector
 * ]}
 * ```
 */
import { readFile } from 'node:fs/promises';
import {
  DATABASE_NAME_RULE,
  ErrorCode,
  isDatabaseName,
  isDatabaseUrl,
  MigrateError,
  REMEDY_PROGRAM,
  redact,
  sh,
} from '../../lambda/contract/index.js';
import type { Worker } from '../core/worker-client.js';
import { withoutPassword } from '../invocation.js';

interface Common {
  /** Unique in the file: reports and `--canary-target` name targets by it. */
  name: string;
}

/** A database the local worker serves (`--local`): development and tests. */
export interface LocalTarget extends Common {
  kind: 'local';
  databaseUrl: string;
}

/** A deployed worker, named directly or by its CloudFormation stack, optionally one of its databases. */
export interface DeployedTarget extends Common {
  kind: 'deployed';
  function?: string;
  stack?: string;
  readerFunction?: string;
  endpoint?: string;
  region?: string;
  profile?: string;
  /** The worker's database selector: one of the databases it is configured for. */
  database?: string;
}

export type RolloutTarget = LocalTarget | DeployedTarget;

/** Names are printed in reports and progress lines and typed on command lines: keep them plain. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

const DEPLOYED_KEYS = ['function', 'stack', 'readerFunction', 'endpoint', 'region', 'profile', 'database'] as const;
const KNOWN_KEYS: ReadonlySet<string> = new Set(['name', 'databaseUrl', ...DEPLOYED_KEYS]);

/** Where the field list is explained, for every remedy below. */
const DOC = 'docs/many-databases.md';

/** A `.yaml` / `.yml` file is read as YAML (a superset of JSON), anything else as JSON. */
const isYaml = (file: string) => /\.ya?ml$/i.test(file);

/**
 * The targets of `text` (the file's content); every problem in one VPCM_TARGETS_INVALID. YAML's
 * parser is loaded only for a YAML file (`parseYaml`, see {@link readTargetsFile}).
 */
export function parseTargets(text: string, file: string, parseYaml?: (text: string) => unknown): RolloutTarget[] {
  let raw: unknown;
  const yaml = isYaml(file) && parseYaml !== undefined;
  try {
    raw = yaml ? parseYaml(text) : JSON.parse(text);
  } catch (error) {
    // A YAML error draws the line and a caret below its first line: the first line says where.
    throw invalid(file, [
      `not ${yaml ? 'YAML' : 'JSON'} (${(error as Error).message.split('\n')[0]!.replace(/:$/, '')})`,
    ]);
  }
  return validateTargets(raw, file);
}

/** The pure check of a parsed file: separate Raw and Parsed types, every problem listed. */
export function validateTargets(raw: unknown, file: string): RolloutTarget[] {
  if (
    typeof raw !== 'object' ||
    raw === null ||
    Array.isArray(raw) ||
    !Array.isArray((raw as Record<string, unknown>).targets)
  )
    throw invalid(file, ['the file must be an object with a "targets" array: {"targets": [{"name": "t01", …}]}']);
  const extra = Object.keys(raw).filter((k) => k !== 'targets');
  const problems: string[] = extra.length > 0 ? [`unknown top-level key(s): ${extra.join(', ')}`] : [];
  const entries = (raw as { targets: unknown[] }).targets;
  if (entries.length === 0) problems.push('"targets" is empty: name at least one target');
  const targets: RolloutTarget[] = [];
  const seen = new Map<string, number>();
  entries.forEach((entry, index) => {
    const result = validateEntry(entry);
    const label = `targets[${index}]${result.name ? ` ("${result.name}")` : ''}`;
    for (const p of result.problems) problems.push(`${label}: ${p}`);
    if (result.name !== undefined) {
      const first = seen.get(result.name);
      if (first !== undefined) problems.push(`${label}: the name is already used by targets[${first}]`);
      else seen.set(result.name, index);
    }
    if (result.target) targets.push(result.target);
  });
  if (problems.length > 0) throw invalid(file, problems);
  return targets;
}

function validateEntry(entry: unknown): { name?: string; problems: string[]; target?: RolloutTarget } {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
    return { problems: ['an entry must be an object with a "name"'] };
  const e = entry as Record<string, unknown>;
  const problems: string[] = [];
  const name = typeof e.name === 'string' && NAME.test(e.name) ? e.name : undefined;
  if (name === undefined)
    problems.push(
      e.name === undefined
        ? '"name" is missing'
        : `"name" must be letters, digits, ".", "_" or "-" (at most 100, starting with a letter or digit)`,
    );
  const unknown = Object.keys(e).filter((k) => !KNOWN_KEYS.has(k));
  if (unknown.length > 0) problems.push(`unknown key(s): ${unknown.join(', ')}`);
  for (const key of ['databaseUrl', ...DEPLOYED_KEYS])
    if (e[key] !== undefined && (typeof e[key] !== 'string' || e[key] === ''))
      problems.push(`"${key}" must be a non-empty string`);
  const ways = (['databaseUrl', 'function', 'stack'] as const).filter((k) => e[k] !== undefined);
  if (ways.length !== 1)
    problems.push(
      ways.length === 0
        ? 'say how to reach it: "databaseUrl" (with --local), "function" or "stack"'
        : `give only one of ${ways.map((w) => `"${w}"`).join(', ')}`,
    );
  if (e.databaseUrl !== undefined) {
    const beside = DEPLOYED_KEYS.filter((k) => e[k] !== undefined);
    if (beside.length > 0)
      problems.push(
        `"databaseUrl" is for --local; ${beside.map((k) => `"${k}"`).join(', ')} ` +
          `${beside.length === 1 ? 'belongs' : 'belong'} to a deployed worker`,
      );
    if (typeof e.databaseUrl === 'string' && !isDatabaseUrl(e.databaseUrl))
      problems.push(`"databaseUrl" must start with postgresql:// (got ${redact(e.databaseUrl).slice(0, 40)})`);
  }
  if (e.stack !== undefined && e.endpoint !== undefined) problems.push('"endpoint" goes with "function", not "stack"');
  // Refused with the file, not as a failed target half-way through the rollout.
  if (typeof e.database === 'string' && e.database !== '' && !isDatabaseName(e.database))
    problems.push(`"database" must be ${DATABASE_NAME_RULE}`);
  if (problems.length > 0 || name === undefined) return { ...(name ? { name } : {}), problems };
  if (typeof e.databaseUrl === 'string')
    return { name, problems, target: { kind: 'local', name, databaseUrl: e.databaseUrl } };
  const target: DeployedTarget = { kind: 'deployed', name };
  for (const key of DEPLOYED_KEYS) if (typeof e[key] === 'string') target[key] = e[key];
  return { name, problems, target };
}

function invalid(file: string, problems: string[]): MigrateError {
  return new MigrateError(
    ErrorCode.TargetsInvalid,
    // One line: an error's message is printed with its control characters made visible.
    `The targets file ${file} is not valid, nothing was run: ${problems.map(redact).join('; ')}.`,
    `Fix ${file} and run the command again (${DOC} lists the fields).`,
    { details: { file, problems: problems.map(redact) } },
  );
}

/** Reads and checks `file` (a path as given on the command line). */
export async function readTargetsFile(file: string): Promise<RolloutTarget[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new MigrateError(
      ErrorCode.TargetsInvalid,
      `Cannot read the targets file ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}.`,
      `Pass --targets with the path of a JSON or YAML file, relative to where you run the command (see ${DOC}).`,
    );
  }
  if (!isYaml(file)) return parseTargets(text, file);
  const yaml = await import('yaml');
  // Bundled by esbuild, the CommonJS build of yaml arrives as the default export.
  const parse = yaml.parse ?? (yaml as unknown as { default: typeof yaml }).default.parse;
  // Duplicate keys are refused (YAML would keep the last one silently); no custom tags.
  return parseTargets(text, file, (t) => parse(t, { uniqueKeys: true, schema: 'core' }));
}

/** How a target is reached, for reports and progress: never a password. */
export function describeTarget(t: RolloutTarget): string {
  if (t.kind === 'local') return redact(t.databaseUrl);
  const where = t.function ? `function ${t.function}` : `stack ${t.stack}`;
  return `${where}${t.database ? ` database ${t.database}` : ''}${t.region ? ` (${t.region})` : ''}`;
}

/**
 * The flags that reach `t` alone, for the commands its remedies print (`resolve --rolled-back …`
 * on that target). A password is left out of a database URL (the person adds it, or PGPASSWORD).
 */
export function targetArgs(t: RolloutTarget): string[] {
  // `--local` too: the report file keeps the canonical form, and without it the command finds no worker.
  if (t.kind === 'local') return ['--local', '--database-url', withoutPassword(t.databaseUrl) ?? t.databaseUrl];
  const args: string[] = [];
  for (const [key, flag] of [
    ['function', '--function'],
    ['stack', '--stack'],
    ['readerFunction', '--reader-function'],
    ['endpoint', '--endpoint'],
    ['region', '--region'],
    ['profile', '--profile'],
    ['database', '--database'],
  ] as const) {
    const value = t[key];
    if (value !== undefined) args.push(flag, value);
  }
  return args;
}

/** `text` with each printed command (`` `vpc-migrate resolve …` ``) given the target's own flags. */
export function onTarget(text: string, t: RolloutTarget): string {
  const args = targetArgs(t).map(sh).join(' ');
  return text.replace(
    new RegExp(`\`${REMEDY_PROGRAM} ([a-z][a-z-]*)((?: [^\`]*)?)\``, 'g'),
    (_, command: string, rest: string) => `\`${REMEDY_PROGRAM} ${command}${rest} ${args}\``,
  );
}

/** Workers for targets: transport/rollout-target.ts makes them, cli.ts hands the maker to the commands. */
export interface TargetWorkers {
  /** Runs `work` with a worker for `target`, closed afterwards whatever happens. */
  use<T>(target: RolloutTarget, work: (worker: Worker) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface TargetWorkerOptions {
  /** Every target of the file (the local worker serves all `databaseUrl` entries at once). */
  targets: readonly RolloutTarget[];
  /** The command the workers serve (`status` goes to a reader function when one is known). */
  command: 'deploy' | 'status' | 'drift';
  /** `--local`: required for `databaseUrl` entries, refused for deployed ones. */
  local: boolean;
  functionTimeoutMs?: number;
}

export type MakeTargetWorkers = (opts: TargetWorkerOptions) => TargetWorkers;

/** Refuses a file whose entries do not match `--local` (or its absence) before anything starts. */
export function checkTargetsReachable(targets: readonly RolloutTarget[], local: boolean): void {
  const wrong = targets.filter((t) => (t.kind === 'local') !== local);
  if (wrong.length === 0) return;
  const names = wrong
    .slice(0, 5)
    .map((t) => t.name)
    .join(', ');
  throw new MigrateError(
    ErrorCode.TargetsInvalid,
    local
      ? `--local serves only "databaseUrl" entries; ${wrong.length} target(s) name a deployed worker (${names}).`
      : `${wrong.length} target(s) name a "databaseUrl" (${names}), which only the local worker (--local) reaches.`,
    local
      ? 'Run without --local for deployed workers, or use a targets file of "databaseUrl" entries.'
      : 'Add --local to run them against the local worker, or name a deployed worker: "function" or "stack".',
  );
}
