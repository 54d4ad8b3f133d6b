/**
 * scripts/invocation.ts: every command a remedy names is printed as the user runs the CLI (a
 * package script, the bin, `node …/run-cli.mjs`), with the target flags of the run, and never
 * with a password.
 */
import { describe, expect, it } from 'vitest';
import { failedMigrationsError, remedyCommand } from '../../lambda/contract/index.js';
import {
  currentLaunch,
  invocationOf,
  type Launch,
  programFor,
  scriptFor,
  targetArgs,
  withoutPassword,
} from '../../scripts/invocation.js';

const REPO = '/home/u/app';
/** This repository's scripts that run one command of the CLI. */
const SCRIPTS = {
  demo: 'node scripts/run-cli.mjs deploy --local && node scripts/run-cli.mjs status --local',
  'migrate:remote': 'node scripts/run-cli.mjs deploy',
  'migrate:status': 'node scripts/run-cli.mjs status',
  'migrate:resolve': 'node scripts/run-cli.mjs resolve',
  'run-sql': 'node scripts/run-cli.mjs sql',
  typecheck: 'tsc --noEmit -p tsconfig.json',
};

function pnpmScript(event: keyof typeof SCRIPTS, extra: Partial<Launch['env']> = {}): Launch {
  return {
    env: {
      npm_lifecycle_event: event,
      npm_lifecycle_script: SCRIPTS[event],
      npm_config_user_agent: 'pnpm/12.24.0 npm/? node/? linux x64',
      INIT_CWD: REPO,
      ...extra,
    },
    script: `${REPO}/scripts/run-cli.mjs`,
    cwd: REPO,
    scripts: SCRIPTS,
  };
}

const shell = (script: string, cwd = REPO): Launch => ({ env: {}, script, cwd });

describe('the program the user invoked', () => {
  it('under a package script: the script that runs the needed command alone, for pnpm, npm and yarn', () => {
    expect(programFor('resolve', pnpmScript('migrate:remote')).words).toBe('pnpm migrate:resolve');
    expect(programFor('sql', pnpmScript('migrate:remote')).words).toBe('pnpm run-sql');
    expect(
      programFor(
        'resolve',
        pnpmScript('migrate:remote', { npm_config_user_agent: 'npm/10.8.2 node/v20.19.0 linux x64' }),
      ),
    ).toEqual({ words: 'npm run migrate:resolve', dashDash: true });
    expect(
      programFor('status', pnpmScript('migrate:remote', { npm_config_user_agent: 'yarn/1.22.22 npm/? node/v20' }))
        .words,
    ).toBe('yarn migrate:status');
  });

  it('prefers the script running now, and needs `run` before a script named like a package-manager command', () => {
    const scripts = { 'a-deploy': 'vpc-migrate deploy', deploy: 'vpc-migrate deploy' };
    const launch: Launch = {
      env: { npm_lifecycle_event: 'deploy', npm_lifecycle_script: 'vpc-migrate deploy' },
      script: '/p/node_modules/vpc-migrate/scripts/run-cli.mjs',
      cwd: '/p',
      scripts,
    };
    expect(programFor('deploy', launch).words).toBe('pnpm run deploy');
    expect(scriptFor('deploy', scripts)).toBe('a-deploy');
  });

  it(
    'a script with fixed arguments is not reused: the bin ' +
      'through the package manager when installed as a dependency',
    () => {
      const scripts = { 'db:deploy': 'vpc-migrate deploy --stack Prod', 'db:sql': 'vpc-migrate sql --write' };
      const env = { npm_lifecycle_event: 'db:deploy', npm_lifecycle_script: scripts['db:deploy'] };
      const launch: Launch = { env, script: '/p/node_modules/vpc-migrate/scripts/run-cli.mjs', cwd: '/p', scripts };
      expect(programFor('resolve', launch).words).toBe('pnpm exec vpc-migrate resolve');
      expect(programFor('sql', { ...launch, env: { ...env, npm_config_user_agent: 'npm/10.8.2' } }).words).toBe(
        'npx vpc-migrate sql',
      );
    },
  );

  it('a checkout without such a script: node and the script path, from where the user stands', () => {
    const launch = pnpmScript('migrate:remote', { INIT_CWD: `${REPO}/prisma` });
    expect(programFor('rehearse', launch).words).toBe('node ../scripts/run-cli.mjs rehearse');
  });

  it('a package script that does not run our bin (a test runner) is not ours: the plain invocation', () => {
    const launch: Launch = {
      env: { npm_lifecycle_event: 'test', npm_lifecycle_script: 'vitest run', INIT_CWD: REPO },
      script: `${REPO}/scripts/run-cli.mjs`,
      cwd: REPO,
      scripts: SCRIPTS,
    };
    expect(programFor('status', launch).words).toBe('node scripts/run-cli.mjs status');
  });

  it(
    'outside a package script: `vpc-migrate` when run by ' +
      'that name, else node and the path (relative when shorter)',
    () => {
      expect(programFor('status', shell('/usr/local/bin/vpc-migrate')).words).toBe('vpc-migrate status');
      expect(programFor('status', shell(`${REPO}/scripts/run-cli.mjs`)).words).toBe('node scripts/run-cli.mjs status');
      expect(programFor('status', shell('/opt/vpc migrate/scripts/run-cli.mjs', '/home/u')).words).toBe(
        "node '/opt/vpc migrate/scripts/run-cli.mjs' status",
      );
      // The TypeScript entry (tsx): plain node runs the same sources through run-cli.mjs beside it.
      expect(programFor('status', shell(`${REPO}/scripts/cli.ts`)).words).toBe('node scripts/run-cli.mjs status');
    },
  );

  it('npx / pnpm exec: the same exec form again, whatever the package scripts hold', () => {
    const app = '/home/u/api';
    const npx: Launch = {
      env: {
        npm_command: 'exec',
        npm_lifecycle_event: 'npx',
        npm_lifecycle_script: 'vpc-migrate',
        npm_config_user_agent: 'npm/11.19.1 node/v20.20.2 linux x64',
        INIT_CWD: app,
      },
      script: `${app}/node_modules/.bin/vpc-migrate`,
      cwd: app,
      scripts: { 'migrate:remote': 'vpc-migrate deploy' },
    };
    expect(programFor('resolve', npx)).toEqual({ words: 'npx vpc-migrate resolve', dashDash: false });
    const pnpmExec: Launch = {
      env: { npm_command: 'exec', npm_config_user_agent: 'pnpm/12.24.0 npm/? node/? linux x64', INIT_CWD: app },
      script: `${app}/node_modules/.pnpm/vpc-migrate@0.1.0/node_modules/vpc-migrate/scripts/run-cli.mjs`,
      cwd: app,
    };
    expect(programFor('status', pnpmExec).words).toBe('pnpm exec vpc-migrate status');
  });

  it("a project's own install run from a shell is not on PATH: npx; a global link is", () => {
    expect(programFor('status', shell('/home/u/api/node_modules/.bin/vpc-migrate', '/home/u/api')).words).toBe(
      'npx vpc-migrate status',
    );
    expect(
      programFor(
        'status',
        shell(
          '/home/u/api/node_modules/.pnpm/vpc-migrate@0.1.0/node_modules/vpc-migrate/scripts/run-cli.mjs',
          '/home/u/api',
        ),
      ).words,
    ).toBe('npx vpc-migrate status');
    expect(programFor('status', shell('/usr/local/bin/vpc-migrate', '/home/u/api')).words).toBe('vpc-migrate status');
  });

  it('reads the scripts from npm_package_json only under a package script of ours', () => {
    const pkg = new URL('../../package.json', import.meta.url).pathname;
    const ours = currentLaunch(
      {
        npm_lifecycle_event: 'migrate:remote',
        npm_lifecycle_script: 'node scripts/run-cli.mjs deploy',
        npm_package_json: pkg,
      },
      '/x/scripts/run-cli.mjs',
      '/nowhere',
    );
    expect(ours.scripts?.['migrate:resolve']).toBe('node scripts/run-cli.mjs resolve');
    expect(
      currentLaunch(
        { npm_lifecycle_event: 'test', npm_lifecycle_script: 'vitest run', npm_package_json: pkg },
        '/x/scripts/run-cli.mjs',
        '/nowhere',
      ).scripts,
    ).toBeUndefined();
  });
});

describe('the target flags of the run', () => {
  it('are carried in a fixed order, shell-quoted; output and command flags are not', () => {
    const { args } = targetArgs({
      json: true,
      'allow-modified': true,
      migrations: 'db/my migrations',
      local: true,
      format: 'prisma',
      'function-timeout': '60',
    });
    expect(args).toEqual([
      '--local',
      '--function-timeout',
      '60',
      '--migrations',
      "'db/my migrations'",
      '--format',
      'prisma',
    ]);
  });

  it('a --database-url password is left out, never printed', () => {
    expect(withoutPassword('postgresql://app:s3cr%40t@db:5432/app')).toBe('postgresql://app@db:5432/app');
    expect(withoutPassword('postgres://db/app?sslmode=require&password=x&user=a')).toBe(
      'postgres://db/app?sslmode=require&user=a',
    );
    expect(withoutPassword('postgres://app@db/app')).toBeUndefined();
    const out = targetArgs({ local: true, 'database-url': 'postgresql://app:hunter2@127.0.0.1:5432/app' });
    expect(out).toMatchObject({
      args: ['--local', '--database-url', 'postgresql://app@127.0.0.1:5432/app'],
      passwordLeftOut: true,
    });
  });

  it("are rewritten in a target matrix's rows, which are targets, not the database's rows", () => {
    const say = invocationOf(pnpmScript('migrate:status'), { local: true });
    const remedy = 'Run `vpc-migrate resolve --rolled-back 002_x --local --database-url postgresql://a@h/t1`.';
    const matrix = say.rewriteAll({ command: 'status-targets', rows: [{ name: 't1', problems: [{ remedy }] }] });
    expect(matrix.rows[0]?.problems[0]?.remedy).toBe(
      'Run `pnpm migrate:resolve --rolled-back 002_x --local --database-url postgresql://a@h/t1`.',
    );
    const sql = say.rewriteAll({ command: 'sql', rows: [{ text: remedy }] });
    expect(sql.rows[0]?.text).toBe(remedy);
  });

  it("are not repeated when the command already names them (a rollout target's remedy)", () => {
    const say = invocationOf(pnpmScript('migrate:remote'), { local: true, migrations: 'db' });
    const remedy = 'Then `vpc-migrate resolve --rolled-back 002_x --local --database-url postgresql://a@h/t1`.';
    expect(say.rewrite(remedy)).toBe(
      'Then `pnpm migrate:resolve --rolled-back 002_x --local --database-url postgresql://a@h/t1 --migrations db`.',
    );
  });
});

describe('remedies as printed', () => {
  const values = {
    function: 'arn:aws:lambda:eu-west-1:1:function:mig',
    region: 'eu-west-1',
    migrations: 'db/migrations',
  };

  it("every canonical command becomes the user's, with the target flags; a half command no longer exists", () => {
    const say = invocationOf(pnpmScript('migrate:remote'), values);
    const remedy = failedMigrationsError(['20240101_add x']).remedy;
    expect(remedy).toContain(remedyCommand('resolve', '--applied', '20240101_add x'));
    const flags = '--function arn:aws:lambda:eu-west-1:1:function:mig --region eu-west-1 --migrations db/migrations';
    expect(say.rewrite(remedy)).toBe(
      `Fix the database by hand if needed, then run \`pnpm ` +
        `migrate:resolve --rolled-back '20240101_add x' ${flags}\` ` +
        `(to retry it) ` +
        `or \`pnpm migrate:resolve --applied '20240101_add x' ${flags}\` (if it is in fact complete).`,
    );
  });

  it('npm needs `--` before the arguments; none without any', () => {
    const npm = pnpmScript('migrate:remote', { npm_config_user_agent: 'npm/10.8.2 node/v20' });
    expect(invocationOf(npm, { local: true }).command('resolve', ['--rolled-back', 'x'])).toBe(
      'npm run migrate:resolve -- --rolled-back x --local',
    );
    expect(invocationOf(npm, {}).command('status')).toBe('npm run migrate:status');
  });

  it('the older `pnpm migrate:*` texts of a worker deployed before this change are rewritten too', () => {
    const say = invocationOf(shell('/usr/local/bin/vpc-migrate'), { stack: 'Prod' });
    expect(say.rewrite('then `pnpm migrate:resolve --rolled-back a` or `pnpm migrate:status`.')).toBe(
      'then `vpc-migrate resolve --rolled-back a --stack Prod` or `vpc-migrate status --stack Prod`.',
    );
  });

  it('--help takes no target flags; prose that only mentions the program is left alone', () => {
    const say = invocationOf(shell('/usr/local/bin/vpc-migrate'), { local: true });
    expect(say.rewrite('Run `vpc-migrate deploy --help`.')).toBe('Run `vpc-migrate deploy --help`.');
    expect(say.rewrite('vpc-migrate: interrupted; `vpc-migrate: x`')).toBe(
      'vpc-migrate: interrupted; `vpc-migrate: x`',
    );
  });

  it('a text whose command left a password out says how to supply it', () => {
    const say = invocationOf(shell(`${REPO}/scripts/run-cli.mjs`), {
      local: true,
      'database-url': 'postgresql://u:pw@h/d',
    });
    const text = say.rewrite(`Run ${remedyCommand('status')}.`);
    expect(text).toBe(
      'Run `node scripts/run-cli.mjs status --local --database-url ' +
        'postgresql://u@h/d`. (The password of --database-url ' +
        'is not printed: set PGPASSWORD to it before running ' +
        'the command, or put it back in the URL.)',
    );
    expect(text).not.toContain('pw');
  });

  it("rewrites reports and error bodies once, but not the database's own rows and notices", () => {
    const say = invocationOf(shell('/usr/local/bin/vpc-migrate'), { local: true });
    const report = {
      command: 'sql',
      next: '`vpc-migrate status`',
      result: { rows: [['`vpc-migrate status`']], notices: ['`vpc-migrate status`'] },
      problems: [{ remedy: '`vpc-migrate status`' }],
    };
    expect(say.rewriteAll(report)).toEqual({
      command: 'sql',
      next: '`vpc-migrate status --local`',
      result: { rows: [['`vpc-migrate status`']], notices: ['`vpc-migrate status`'] },
      problems: [{ remedy: '`vpc-migrate status --local`' }],
    });
  });
});
