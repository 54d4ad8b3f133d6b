/**
 * Which function a run talks to (issue 23): where the reader function's name comes from
 * (transport/target.ts) and the one routing rule between reader and migrator (core/worker-client.ts).
 * No network: `--stack` is covered against a local CloudFormation server in test/infra.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode, MigrateError } from '../../lambda/contract/index.js';
import { targetFlags } from '../../scripts/commands/flags.js';
import { READ_ONLY_PERMISSION_REMEDY, runSqlCommand } from '../../scripts/commands/sql.js';
import {
  answeredBy,
  migratorOnly,
  readsOnly,
  targetFor,
  type Worker,
  type WorkerTarget,
} from '../../scripts/core/worker-client.js';
import { renderSql } from '../../scripts/render/sql.js';
import { invocationOf, targetArgs } from '../../scripts/invocation.js';
import { invokeError } from '../../scripts/transport/invoke.js';
import { checkTargetFlags, readerFunctionOf, resolveTarget } from '../../scripts/transport/target.js';
import { migrateErrorOf } from '../helpers/errors.js';

const BOTH: WorkerTarget = { functionName: 'app-migrator', readerFunctionName: 'app-reader', region: 'eu-west-1' };
const WRITING_COMMANDS = ['deploy', 'resolve', 'rehearse', 'backfill'];

describe('the routing rule', () => {
  it('status, lint and sql without --write go to the reader function, marked as such', () => {
    for (const command of ['status', 'lint', 'sql']) {
      expect(targetFor(command, BOTH)).toEqual({ functionName: 'app-reader', region: 'eu-west-1', role: 'reader' });
    }
  });

  it('deploy, resolve, rehearse, backfill and sql --write go to the migrator, never the reader', () => {
    for (const command of WRITING_COMMANDS) {
      expect(targetFor(command, BOTH)).toEqual({ functionName: 'app-migrator', region: 'eu-west-1', role: 'migrator' });
      expect(targetFor(command, BOTH, { write: false }).functionName).toBe('app-migrator');
    }
    expect(targetFor('sql', BOTH, { write: true })).toEqual({
      functionName: 'app-migrator',
      region: 'eu-west-1',
      role: 'migrator',
    });
    expect(readsOnly('sql', { write: true })).toBe(false);
    expect(readsOnly('an-unknown-command')).toBe(false);
  });

  it('without a reader function every command goes to the migrator, and reports name no function', () => {
    const only: WorkerTarget = { functionName: 'app-migrator' };
    for (const command of ['status', 'sql', ...WRITING_COMMANDS]) expect(targetFor(command, only)).toEqual(only);
    expect(answeredBy({ target: targetFor('status', only) })).toBeUndefined();
    expect(answeredBy({ target: targetFor('status', BOTH) })).toEqual({ name: 'app-reader', role: 'reader' });
  });

  it('a reader function alone serves the read-only commands; the others are refused before anything is sent', () => {
    const readerOnly: WorkerTarget = { functionName: '', readerFunctionName: 'app-reader' };
    expect(targetFor('status', readerOnly).functionName).toBe('app-reader');
    for (const command of WRITING_COMMANDS) {
      const error = (() => {
        try {
          targetFor(command, readerOnly);
        } catch (e) {
          return e as { code: string; message: string; remedy: string };
        }
        return undefined;
      })();
      expect(error?.code).toBe(ErrorCode.NoTarget);
      expect(error?.message).toContain(command);
      expect(error?.remedy).toContain('--function');
    }
    expect(() => migratorOnly(readerOnly)).toThrow(/needs the migrator/);
  });
});

describe('a named database (--database)', () => {
  it('sends every command to the migrator: the reader function serves only its own database', () => {
    for (const command of ['status', 'lint', 'sql', ...WRITING_COMMANDS]) {
      expect(targetFor(command, { ...BOTH, database: 't1' })).toEqual({
        functionName: 'app-migrator',
        region: 'eu-west-1',
        role: 'migrator',
        database: 't1',
      });
    }
  });

  it('with only a reader function named, read-only commands too are refused, saying --database is why', () => {
    const readerOnly: WorkerTarget = { functionName: '', readerFunctionName: 'app-reader', database: 't1' };
    for (const command of ['status', 'lint', 'sql']) {
      expect(() => targetFor(command, readerOnly)).toThrow(
        expect.objectContaining({
          code: ErrorCode.NoTarget,
          message: expect.stringContaining(`${command} --database needs the migrator`),
          remedy: expect.stringContaining('never with --database'),
        }) as MigrateError,
      );
    }
  });

  it('is a target flag, checked for form before anything is sent, and carried into printed commands', async () => {
    expect(targetFlags({ function: 'm', database: 'tenant-01' })).toEqual({ function: 'm', database: 'tenant-01' });
    for (const bad of ['', 'a b', '../x', '-x']) {
      expect(() => checkTargetFlags(targetFlags({ database: bad }))).toThrow(
        expect.objectContaining({ code: ErrorCode.UsageError }) as MigrateError,
      );
    }
    expect((await resolveTarget({ function: 'm', database: 't1' }, {})).target).toEqual({
      functionName: 'm',
      database: 't1',
    });
    expect(targetArgs({ function: 'm', database: 't1' }).args).toEqual(['--database', 't1', '--function', 'm']);
  });
});

describe('where the reader function comes from', () => {
  it('--reader-function, else VPC_MIGRATE_READER_FUNCTION, else the stack output', () => {
    const env = { VPC_MIGRATE_READER_FUNCTION: 'from-env' };
    expect(readerFunctionOf({ readerFunction: 'from-flag' }, env, 'from-stack')).toBe('from-flag');
    expect(readerFunctionOf({}, env, 'from-stack')).toBe('from-env');
    expect(readerFunctionOf({}, {}, 'from-stack')).toBe('from-stack');
    expect(readerFunctionOf({}, { VPC_MIGRATE_READER_FUNCTION: '' }, undefined)).toBeUndefined();
    expect(() => readerFunctionOf({ readerFunction: ' ' }, env)).toThrow(/empty/);
  });

  it('parses --reader-function as a target flag', () => {
    expect(
      targetFlags({ function: 'm', 'reader-function': 'arn:aws:lambda:eu-west-1:123456789012:function:r' }),
    ).toEqual({
      function: 'm',
      readerFunction: 'arn:aws:lambda:eu-west-1:123456789012:function:r',
    });
  });

  it('resolves --function with the reader from the flag or the environment', async () => {
    const env = { VPC_MIGRATE_FUNCTION: 'env-migrator', VPC_MIGRATE_READER_FUNCTION: 'env-reader' };
    expect((await resolveTarget({ function: 'm', readerFunction: 'r' }, env)).target).toEqual({
      functionName: 'm',
      readerFunctionName: 'r',
    });
    expect((await resolveTarget({}, env)).target).toEqual({
      functionName: 'env-migrator',
      readerFunctionName: 'env-reader',
    });
    expect((await resolveTarget({ function: 'm' }, {})).target).toEqual({ functionName: 'm' });
  });

  it('a reader function alone is a target (for whoever may invoke only the reader)', async () => {
    expect((await resolveTarget({}, { VPC_MIGRATE_READER_FUNCTION: 'env-reader' })).target).toEqual({
      functionName: '',
      readerFunctionName: 'env-reader',
    });
    expect((await migrateErrorOf(resolveTarget({}, {}))).code).toBe(ErrorCode.NoTarget);
  });

  it('--reader-function with --local is a usage error, refused before the local worker starts', async () => {
    const error = await migrateErrorOf(resolveTarget({ local: true, readerFunction: 'r' }, {}));
    expect(error.code).toBe(ErrorCode.UsageError);
    expect(error.remedy).toContain('Leave out --reader-function with --local');
  });
});

describe('printed commands', () => {
  it('carry --reader-function after --function', () => {
    expect(targetArgs({ 'reader-function': 'app-reader', function: 'app-migrator', json: true }).args).toEqual([
      '--function',
      'app-migrator',
      '--reader-function',
      'app-reader',
    ]);
    const say = invocationOf(
      { env: {}, script: '/usr/local/bin/vpc-migrate', cwd: '/app' },
      { function: 'm', 'reader-function': 'r' },
    );
    expect(say.rewrite('Run `vpc-migrate status`.')).toBe('Run `vpc-migrate status --function m --reader-function r`.');
  });
});

describe('a permission error in read-only sql', () => {
  const denied = (remedy: string) =>
    new MigrateError(ErrorCode.SqlFailed, 'permission denied to set role "postgres"', remedy, {
      details: { error: { code: '42501', message: 'permission denied to set role "postgres"' } },
    });
  const failingWorker = (error: MigrateError) =>
    ({
      target: { functionName: 'r', role: 'reader' },
      invocations: 0,
      runSql: () => Promise.reject(error),
    }) as unknown as Worker;

  it('never suggests --write, even when an older worker does', async () => {
    const report = await runSqlCommand(failingWorker(denied('Re-run with --write if you mean it.')), {
      sql: 'SET ROLE postgres',
    });

    expect(report.exitCode).toBe(2);
    expect(report.error?.remedy).toBe(READ_ONLY_PERMISSION_REMEDY);
    expect(report.error?.remedy).not.toContain('--write');
    expect(renderSql(report)).not.toContain('--write');
    expect(report.function).toEqual({ name: 'r', role: 'reader' });
  });

  it("a worker's remedy without --write stands, and so does any remedy with --write", async () => {
    const current = await runSqlCommand(failingWorker(denied('The reader login may read and nothing else.')), {
      sql: 'SET ROLE postgres',
    });
    const written = await runSqlCommand(failingWorker(denied('Grant it, or re-run with --write.')), {
      sql: 'SET ROLE postgres',
      write: true,
    });

    expect(current.error?.remedy).toBe('The reader login may read and nothing else.');
    expect(written.error?.remedy).toBe('Grant it, or re-run with --write.');
  });
});

describe('invoke errors name the function that was asked', () => {
  it('a missing reader function points at --reader-function, a missing migrator at --function', () => {
    const missing = Object.assign(new Error('Function not found'), { name: 'ResourceNotFoundException' });

    const reader = invokeError(missing, targetFor('status', BOTH));
    const migrator = invokeError(missing, targetFor('deploy', BOTH));

    expect(reader.message).toBe('No reader function named app-reader.');
    expect(reader.remedy).toContain('--reader-function');
    expect(migrator.message).toBe('No function named app-migrator.');
    expect(migrator.remedy).toContain('--function');
  });
});
