/**
 * How to print a command the user can run as printed: the program they invoked and the target
 * flags of this run. Every remedy names its command in one canonical form, backticked
 * `vpc-migrate <command> …` (lambda/contract/remedy-command.ts; the worker cannot know how the
 * CLI was started), and cli.ts rewrites each into the user's own with {@link Invocation.rewrite},
 * once, where it prints: errors, reports (text and --json), progress lines, the Ctrl-C hint.
 *
 * The program, from how this process was started:
 * - under a package script that runs our bin (`npm_lifecycle_event`, and `npm_lifecycle_script`
 *   is `vpc-migrate …` or this repository's `node scripts/run-cli.mjs …`): the package's script that
 *   runs the command with no other fixed argument (`pnpm migrate:resolve …`, `npm run
 *   migrate:resolve -- …`, `yarn migrate:resolve …`), else the bin through the package manager
 *   (`pnpm exec vpc-migrate resolve …`, `npx …`, `yarn …`);
 * - else `vpc-migrate …` when the bin was run by that name, else `node <the script path> …`.
 *
 * Secrets are never printed (lambda/contract/redact.ts): a `--database-url` with a password is
 * printed without it, and the text says to supply it as PGPASSWORD (node-postgres reads it when
 * the URL has none), so the command still works as printed in that environment.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { redact, REMEDY_PROGRAM, sh } from '../lambda/contract/index.js';
import type { AnyValues } from './commands/flags.js';
import { mapStrings } from './render/escape.js';

/** How this process was started; {@link currentLaunch} reads it, tests pass their own. */
export interface Launch {
  env: Record<string, string | undefined>;
  /** `process.argv[1]`: the script node runs (absolute). */
  script: string | undefined;
  cwd: string;
  /** The package.json `scripts` of the package whose script is running, when there is one. */
  scripts?: Record<string, string> | undefined;
}

export interface Invocation {
  /** The command line for `command` with `args` (quoted here) and this run's target flags. */
  command(command: string, args?: string[]): string;
  /**
   *  `text` with every backticked `vpc-migrate <command> …` (and the older `pnpm migrate:*` forms) as {@link command}
   *  prints it.
   */
  rewrite(text: string): string;
  /**
   *  A copy of a report or error body with {@link rewrite} applied to its strings, except the database's own data
   *  (rows, notices).
   */
  rewriteAll<T extends object>(value: T): T;
}

/** The target flags of a run, in the order they are printed; each is repeated in every printed command. */
export const CARRIED_FLAGS = [
  'local',
  'database-url',
  'database',
  'function',
  'reader-function',
  'stack',
  'endpoint',
  'region',
  'profile',
  'function-timeout',
  'migrations',
  'format',
  'protocol',
  'payload-template',
  'error-path',
  'count-path',
] as const;

/**
 *  The package scripts of this repository and the commands they run, for the older remedy texts a deployed worker may
 *  still send.
 */
const OLD_SCRIPTS: Record<string, string> = {
  'migrate:remote': 'deploy',
  'migrate:status': 'status',
  'migrate:resolve': 'resolve',
  'migrate:rehearse': 'rehearse',
  'migrate:lint': 'lint',
  'run-sql': 'sql',
  backfill: 'backfill',
};

/** A package script that runs our bin: `vpc-migrate …`, `npx vpc-migrate …`, `node scripts/run-cli.mjs …`. */
const RUNS_OUR_BIN = /(^|[\s/"'])(vpc-migrate|run-cli\.mjs)(\s|$)/;
/** A script that runs exactly one command of our bin, no other fixed argument; group 1 is the command. */
const RUNS_ONE_COMMAND = /^\s*(?:[\w./@:=-]+\s+)*?(?:\S*\/)?(?:vpc-migrate|run-cli\.mjs)\s+([a-z][a-z-]*)\s*$/;
/** Built-in commands of pnpm and yarn: a script of that name needs `run` in front. */
const PM_BUILTINS = new Set(
  (
    'add audit bin config create deploy dlx exec fetch import ' +
    'info init install link list outdated pack patch prune ' +
    'publish rebuild remove root run server setup start ' +
    'store test unlink up update upgrade why'
  ).split(' '),
);

const CANONICAL = new RegExp(
  '`(?:' +
    REMEDY_PROGRAM +
    ' ([a-z][a-z-]*)|pnpm (' +
    Object.keys(OLD_SCRIPTS)
      .map((s) => s.replace(/[:-]/g, '\\$&'))
      .join('|') +
    '))((?: [^`]*)?)`',
  'g',
);

/** Strings under these keys are the database's data, never remedy text. */
const DATA_KEYS = new Set(['rows', 'notices', 'columns']);
/** Reports whose `rows` are targets (with remedies to rewrite), not the database's data. */
const TARGET_MATRICES: ReadonlySet<unknown> = new Set(['status-targets', 'drift-targets']);
const NO_KEYS: ReadonlySet<string> = new Set();

/** The package manager that runs the script, from `npm_config_user_agent` (pnpm when unknown). */
function packageManager(env: Launch['env']): 'pnpm' | 'npm' | 'yarn' {
  const agent = env.npm_config_user_agent ?? '';
  if (agent.startsWith('npm/')) return 'npm';
  if (agent.startsWith('yarn/')) return 'yarn';
  return 'pnpm';
}

/** Whether this process is a package script that runs our bin. */
export function underPackageScript(env: Launch['env']): boolean {
  return Boolean(env.npm_lifecycle_event) && RUNS_OUR_BIN.test(env.npm_lifecycle_script ?? '');
}

/** The package script that runs `command` alone, preferring the one running now. */
export function scriptFor(command: string, scripts: Record<string, string>, running?: string): string | undefined {
  const runs = (name: string) => RUNS_ONE_COMMAND.exec(scripts[name] ?? '')?.[1] === command;
  if (running && runs(running)) return running;
  return Object.keys(scripts).find(runs);
}

/**
 * The words before the command's own arguments, and whether npm needs `--` before them.
 *
 * @example programFor('resolve', { env: { npm_lifecycle_event: 'migrate:remote', npm_lifecycle_script: 'node
 * scripts/run-cli.mjs deploy' }, script, cwd, scripts }) // 'pnpm migrate:resolve'
 */
export function programFor(command: string, launch: Launch): { words: string; dashDash: boolean } {
  const { env } = launch;
  const pm = packageManager(env);
  // `npx vpc-migrate …`, `pnpm exec vpc-migrate …`: the same again.
  if (env.npm_command === 'exec') return { words: `${execForm(pm)} ${command}`, dashDash: false };
  if (underPackageScript(env)) {
    const script = launch.scripts && scriptFor(command, launch.scripts, env.npm_lifecycle_event);
    if (script) {
      const name = sh(script);
      if (pm === 'npm') return { words: `npm run ${name}`, dashDash: true };
      return { words: PM_BUILTINS.has(script) ? `${pm} run ${name}` : `${pm} ${name}`, dashDash: false };
    }
    // Installed as a dependency: the bin through the package manager. From a checkout (this
    // repository has no script for the command), the script path below.
    if (installedLocally(launch.script)) return { words: `${execForm(pm)} ${command}`, dashDash: false };
  } else if (installedLocally(launch.script)) {
    // `./node_modules/.bin/vpc-migrate …` from a shell: a project's own install is not on PATH.
    return { words: `npx ${REMEDY_PROGRAM} ${command}`, dashDash: false };
  }
  return { words: `${nodeProgram(launch)} ${command}`, dashDash: false };
}

/** The package manager's way to run a project's bin. */
function execForm(pm: 'pnpm' | 'npm' | 'yarn'): string {
  return { pnpm: `pnpm exec ${REMEDY_PROGRAM}`, npm: `npx ${REMEDY_PROGRAM}`, yarn: `yarn ${REMEDY_PROGRAM}` }[pm];
}

/**
 * The bin of a project's own install (`node_modules/.bin/vpc-migrate`, or pnpm's shim running the
 * package inside node_modules). A global install is run through its link on PATH
 * (`<prefix>/bin/vpc-migrate`), which is printed as `vpc-migrate`.
 */
function installedLocally(script: string | undefined): boolean {
  return Boolean(script?.split(path.sep).includes('node_modules'));
}

/**
 *  `vpc-migrate` when the bin was run by that name, else `node <script>` (relative to where the user stands when
 *  shorter).
 */
function nodeProgram(launch: Launch): string {
  const script = launch.script;
  if (!script) return REMEDY_PROGRAM;
  if (path.basename(script) === REMEDY_PROGRAM) return REMEDY_PROGRAM;
  // The TypeScript entry (tests, `tsx scripts/cli.ts`): plain node runs the same sources through run-cli.mjs beside it.
  const runnable = path.basename(script) === 'cli.ts' ? path.join(path.dirname(script), 'run-cli.mjs') : script;
  const here = underPackageScript(launch.env) && launch.env.INIT_CWD ? launch.env.INIT_CWD : launch.cwd;
  const relative = path.relative(here, runnable);
  return `node ${sh(relative.length < runnable.length ? relative : runnable)}`;
}

/** A URL without its password (`user:secret@` → `user@`, `?password=` dropped), or undefined when it has none. */
export function withoutPassword(url: string): string | undefined {
  if (redact(url) === url) return undefined;
  const stripped = url
    .replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:\s/@]*):[^@\s]*@/i, '$1@')
    .replace(/([?&])(password|passwd|pwd)=[^&]*(&|$)/gi, (_, sep: string, _k: string, end: string) => (end ? sep : ''));
  return redact(stripped) === stripped ? stripped : redact(url);
}

/** The target flags of `values` as shell words, and whether a password was left out of `--database-url`. */
export function targetArgs(values: AnyValues): { args: string[]; groups: string[][]; passwordLeftOut: boolean } {
  const groups: string[][] = [];
  let passwordLeftOut = false;
  for (const flag of CARRIED_FLAGS) {
    const v = values[flag];
    if (v === true) groups.push([`--${flag}`]);
    else if (typeof v === 'string') {
      const stripped = flag === 'database-url' ? withoutPassword(v) : undefined;
      if (stripped !== undefined) passwordLeftOut = true;
      groups.push([`--${flag}`, sh(stripped ?? v)]);
    }
  }
  return { args: groups.flat(), groups, passwordLeftOut };
}

export const PASSWORD_NOTE =
  '(The password of --database-url is not printed: set ' +
  'PGPASSWORD to it before running the command, or put ' +
  'it back in the URL.)';

export function invocationOf(launch: Launch, values: AnyValues): Invocation {
  const target = targetArgs(values);
  /** `argText` is already shell text (the canonical form quotes its arguments). */
  const render = (command: string, argText: string): string => {
    const { words, dashDash } = programFor(command, launch);
    const own = argText.trim();
    const help = /(^|\s)(--help|-h)(\s|$)/.test(own);
    // A flag the command already names (a rollout target's `--local --database-url …`) is not repeated.
    const named = new Set(own.split(/\s+/));
    const carried = help ? [] : target.groups.filter(([flag]) => !named.has(flag as string)).flat();
    const rest = [own, ...carried].filter((w) => w !== '').join(' ');
    if (rest === '') return words;
    return `${words}${dashDash ? ' --' : ''} ${rest}`;
  };
  const rewrite = (text: string): string => {
    // Every canonical command is backticked: most strings (names, checksums, dates) hold none.
    if (!text.includes('`')) return text;
    let carried = false;
    const out = text.replace(CANONICAL, (_, command: string | undefined, old: string | undefined, argText: string) => {
      const name = command ?? (OLD_SCRIPTS[old as string] as string);
      if (target.passwordLeftOut && !/(^|\s)(--help|-h)(\s|$)/.test(argText)) carried = true;
      return '`' + render(name, argText) + '`';
    });
    return carried ? `${out} ${PASSWORD_NOTE}` : out;
  };
  const rewriteAll = <T extends object>(value: T): T =>
    mapStrings(value, rewrite, TARGET_MATRICES.has((value as { command?: unknown }).command) ? NO_KEYS : DATA_KEYS);
  return {
    command: (command, args = []) => render(command, args.map(sh).join(' ')),
    rewrite,
    rewriteAll,
  };
}

/** How this process was started, with the running package's scripts read from its package.json. */
export function currentLaunch(
  env: NodeJS.ProcessEnv = process.env,
  script: string | undefined = process.argv[1],
  cwd: string = process.cwd(),
): Launch {
  const launch: Launch = { env, script, cwd };
  if (underPackageScript(env)) {
    for (const file of [
      env.npm_package_json,
      path.join(cwd, 'package.json'),
      env.INIT_CWD && path.join(env.INIT_CWD, 'package.json'),
    ]) {
      if (!file) continue;
      try {
        const scripts = (JSON.parse(readFileSync(file, 'utf8')) as { scripts?: Record<string, string> }).scripts;
        if (scripts && typeof scripts === 'object') {
          launch.scripts = scripts;
          break;
        }
      } catch {
        // unreadable: try the next, else print the bin's form
      }
    }
  }
  return launch;
}
