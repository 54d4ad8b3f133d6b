/**
 * The construct's `databases` prop (issue 27, one worker, many databases): the migrator's
 * allow-list in VPCM_DATABASES, GetSecretValue on exactly those secrets (KMS only through Secrets
 * Manager, only for a secret with a key), and network reach to exactly those security groups on
 * their ports. cdk-nag AwsSolutions stays clean on the construct. Offline synthesis; real AWS is
 * not exercised here (docs/aws.md says what is and is not verified).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MigrateError, WORKER_ENV } from '../../lambda/contract/index.js';
import { MigrationWorker, type NamedDatabase } from '../../infra/index.js';

interface Resource {
  Type: string;
  Properties?: Record<string, any>;
}

const ARN = (name: string) => `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${name}-AbCdEf`;
const OWN_SECRET = ARN('own');
const EU_SECRET = ARN('tenant-eu');
const US_SECRET = ARN('tenant-us');
const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555';
const OWN_SG = 'sg-0000000000000000a';
const EU_SG = 'sg-0000000000000000b';
const US_SG = 'sg-0000000000000000c';

const outdirs: string[] = [];
function newStack(id: string): { app: App; stack: Stack; vpc: ec2.Vpc } {
  const outdir = mkdtempSync(join(tmpdir(), 'vpcm-databases-'));
  outdirs.push(outdir);
  const app = new App({ outdir });
  const stack = new Stack(app, id, { env: { account: '123456789012', region: 'eu-west-1' } });
  return { app, stack, vpc: new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 0 }) };
}

/** A worker with these named databases on a stack of its own, and the stack's template. */
function workerWith(id: string, databases: (stack: Stack) => NamedDatabase[]) {
  const { stack, vpc } = newStack(id);
  const worker = new MigrationWorker(stack, 'W', {
    vpc,
    database: { hostname: 'own.internal', port: 5432 },
    secret: secretsmanager.Secret.fromSecretCompleteArn(stack, 'Own', OWN_SECRET),
    setupReaderRole: false,
    databases: databases(stack),
  });
  const idOf = (construct: { node: { defaultChild?: unknown } }) =>
    stack.getLogicalId(construct.node.defaultChild as never);
  const warnings = (about = 'partial ARN') =>
    Annotations.fromStack(stack)
      .findWarning('*', Match.stringLikeRegexp(about))
      .map((w) => String(w.entry.data));
  return { worker, template: Template.fromStack(stack).toJSON(), idOf, warnings };
}

afterAll(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

let stack: Stack;
let worker: MigrationWorker;
let resources: Record<string, Resource>;
let createdSecretId: string;
let createdSgId: string;

beforeAll(() => {
  const made = newStack('ManyDatabases');
  stack = made.stack;
  const sg = (id: string, groupId: string) => ec2.SecurityGroup.fromSecurityGroupId(stack, id, groupId);
  // A secret made in this stack under its own key, and a database security group made here too.
  const key = kms.Key.fromKeyArn(stack, 'ApacKey', KEY_ARN);
  const created = new secretsmanager.Secret(stack, 'ApacSecret', { encryptionKey: key });
  const createdSg = new ec2.SecurityGroup(stack, 'ApacSg', { vpc: made.vpc, allowAllOutbound: false });
  worker = new MigrationWorker(stack, 'Worker', {
    vpc: made.vpc,
    database: { hostname: 'own.internal', port: 5432, securityGroups: [sg('OwnSg', OWN_SG)] },
    secret: secretsmanager.Secret.fromSecretCompleteArn(stack, 'OwnSecret', OWN_SECRET),
    allowAllOutbound: false,
    setupReaderRole: false,
    databases: [
      {
        name: 'eu',
        secret: secretsmanager.Secret.fromSecretCompleteArn(stack, 'Eu', EU_SECRET),
        securityGroup: sg('EuSg', EU_SG),
      },
      // Another port, and no security group: the owner admits the worker there.
      { name: 'us', secret: secretsmanager.Secret.fromSecretCompleteArn(stack, 'Us', US_SECRET), port: 6432 },
      { name: 'apac', secret: created, securityGroup: createdSg, port: 5433 },
    ],
  });
  // A security group the worker must never reach (named nowhere): the rule count below would show it.
  sg('UsSgUnused', US_SG);
  resources = Template.fromStack(stack).toJSON().Resources as Record<string, Resource>;
  createdSecretId = stack.getLogicalId(created.node.defaultChild as never);
  createdSgId = stack.getLogicalId(createdSg.node.defaultChild as never);
}, 120_000);

const logicalId = (construct: { node: { defaultChild?: unknown } }) =>
  stack.getLogicalId(construct.node.defaultChild as never);
const all = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);

/** Every policy statement attached to a role, by role logical id. */
function statementsOf(roleId: string, from: Record<string, Resource> = resources): Record<string, any>[] {
  return Object.values(from)
    .filter((p) => p.Type === 'AWS::IAM::Policy' && JSON.stringify(p.Properties!.Roles).includes(`"${roleId}"`))
    .flatMap((p) => p.Properties!.PolicyDocument.Statement as Record<string, any>[]);
}
/** The one statement a customer-managed key adds: decrypt with it, only through Secrets Manager. */
const DECRYPT_VIA_SECRETS_MANAGER = {
  Effect: 'Allow',
  Action: 'kms:Decrypt',
  Resource: KEY_ARN,
  Condition: { StringEquals: { 'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com' } },
};
const roleOf = (fn: MigrationWorker['fn']) => logicalId(fn.role as never);
const asList = (x: unknown) => (Array.isArray(x) ? x : [x]);

describe('MigrationWorker databases', () => {
  it('gives the migrator its allow-list as VPCM_DATABASES: name → secret ARN', () => {
    const env = resources[logicalId(worker.fn)]!.Properties!.Environment.Variables as Record<string, unknown>;
    const value = env[WORKER_ENV.databases];
    // The created secret's ARN is a deploy-time Ref: the JSON is joined around it.
    const join = (value as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
    expect(join[0]).toBe('');
    const text = join[1].map((part) => (typeof part === 'string' ? part : `<${JSON.stringify(part)}>`)).join('');
    expect(JSON.parse(text.replace(/<\{"Ref":"(\w+)"\}>/, 'REF:$1'))).toEqual({
      eu: EU_SECRET,
      us: US_SECRET,
      apac: `REF:${createdSecretId}`,
    });
    // The reader function serves none of them: no list there.
    const readerEnv = resources[logicalId(worker.readerFn!)]!.Properties!.Environment.Variables;
    expect(readerEnv).not.toHaveProperty(WORKER_ENV.databases);
  });

  it('grants GetSecretValue on exactly these secrets (and its own), never a wildcard', () => {
    const reads = statementsOf(roleOf(worker.fn)).filter((s) =>
      asList(s.Action).some((a: string) => a.startsWith('secretsmanager:')),
    );
    for (const s of reads) expect(asList(s.Action)).toEqual(['secretsmanager:GetSecretValue']);
    const arns = reads.flatMap((s) => asList(s.Resource)).map((r) => (typeof r === 'string' ? r : JSON.stringify(r)));
    const readerSecret = JSON.stringify({ Ref: logicalId(worker.readerSecret) });
    expect(arns.sort()).toEqual(
      [OWN_SECRET, EU_SECRET, US_SECRET, JSON.stringify({ Ref: createdSecretId }), readerSecret].sort(),
    );
    for (const arn of arns) expect(arn).not.toContain('*');
    // The reader function reads only the reader secret.
    const readerReads = statementsOf(roleOf(worker.readerFn!))
      .filter((s) => asList(s.Action).some((a: string) => a.startsWith('secretsmanager:')))
      .flatMap((s) => asList(s.Resource));
    expect(readerReads).toEqual([{ Ref: logicalId(worker.readerSecret) }]);
  });

  it("grants kms:Decrypt on a named secret's key only through Secrets Manager", () => {
    const decrypts = statementsOf(roleOf(worker.fn)).filter((s) => asList(s.Action).includes('kms:Decrypt'));
    expect(decrypts).toEqual([DECRYPT_VIA_SECRETS_MANAGER]);
  });

  it("lets the migrator out only to its own database and these databases' security groups, on their ports", () => {
    const workerSg = logicalId(worker.securityGroup);
    expect(resources[workerSg]!.Properties!.SecurityGroupEgress ?? []).toEqual([]);
    const egress = all('AWS::EC2::SecurityGroupEgress')
      .filter(([, r]) => JSON.stringify(r.Properties!.GroupId).includes(`"${workerSg}"`))
      .map(([, r]) => {
        const to = r.Properties!.DestinationSecurityGroupId;
        return {
          to: typeof to === 'string' ? to : (to as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0],
          port: r.Properties!.FromPort,
          toPort: r.Properties!.ToPort,
        };
      })
      .sort((a, b) => a.port - b.port || a.to.localeCompare(b.to));
    expect(egress).toEqual([
      { to: OWN_SG, port: 5432, toPort: 5432 },
      { to: EU_SG, port: 5432, toPort: 5432 },
      { to: createdSgId, port: 5433, toPort: 5433 },
    ]);
    for (const [, r] of all('AWS::EC2::SecurityGroupEgress')) expect(r.Properties).not.toHaveProperty('CidrIp');
  });

  it('warns at synth of a named database the migrator has no way out to (no securityGroup, no open egress)', () => {
    const warnings = Annotations.fromStack(stack)
      .findWarning('*', Match.stringLikeRegexp('has no securityGroup'))
      .map((w) => String(w.entry.data));
    // "us" has no security group, and this worker has allowAllOutbound: false; "eu" and "apac" have theirs.
    expect(warnings).toEqual([expect.stringContaining('The named database "us" has no securityGroup')]);
    const open = workerWith('OpenEgress', (s) => [
      { name: 'us', secret: secretsmanager.Secret.fromSecretCompleteArn(s, 'Us', US_SECRET) },
    ]);
    expect(open.warnings('has no securityGroup')).toEqual([]);
  });

  it("admits the migrator alone (not the reader) to each named database's security group", () => {
    const ingressTo = (group: unknown) =>
      all('AWS::EC2::SecurityGroupIngress')
        .filter(([, r]) => JSON.stringify(r.Properties!.GroupId) === JSON.stringify(group))
        .map(([, r]) => ({
          from: (r.Properties!.SourceSecurityGroupId as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0],
          port: r.Properties!.FromPort,
        }));
    const migrator = logicalId(worker.securityGroup);
    expect(ingressTo(EU_SG)).toEqual([{ from: migrator, port: 5432 }]);
    expect(ingressTo({ 'Fn::GetAtt': [createdSgId, 'GroupId'] })).toEqual([{ from: migrator, port: 5433 }]);
    expect(ingressTo(US_SG)).toEqual([]);
  });

  it('refuses a name --database could not send, or one given twice, at synth', () => {
    for (const names of [['a b'], ['eu', 'eu'], ['']]) {
      const { stack: s, vpc } = newStack(`Bad${Math.random().toString(36).slice(2, 8)}`);
      const secret = secretsmanager.Secret.fromSecretCompleteArn(s, 'S', EU_SECRET);
      expect(
        () =>
          new MigrationWorker(s, 'W', {
            vpc,
            database: { hostname: 'h', port: 5432 },
            secret,
            databases: names.map((name) => ({ name, secret })),
          }),
        names.join(','),
      ).toThrow(MigrateError);
    }
  });

  it("refuses at synth a list over Lambda's 4 KB environment, and takes one that fills it exactly", () => {
    // Everything known at synth: the estimate is then the measurement, byte for byte.
    const build = (names: string[]) => {
      const { stack: s, vpc } = newStack(`Env${Math.random().toString(36).slice(2, 8)}`);
      const imported = (id: string, arn: string) => secretsmanager.Secret.fromSecretCompleteArn(s, id, arn);
      const w = new MigrationWorker(s, 'W', {
        vpc,
        database: { hostname: 'own.internal', port: 5432 },
        secret: imported('Own', OWN_SECRET),
        readerSecret: imported('Reader', ARN('reader')),
        setupReaderRole: false,
        // Typed through the package's public entry (vpc-migrate/cdk), as an app would.
        databases: names.map((name, i): NamedDatabase => ({ name, secret: imported(`S${i}`, ARN(`tenant-${i}`)) })),
      });
      const fn = Template.fromStack(s).toJSON().Resources[s.getLogicalId(w.fn.node.defaultChild as never)];
      return Buffer.byteLength(JSON.stringify(fn.Properties.Environment.Variables), 'utf8');
    };
    const names = Array.from({ length: 40 }, (_, i) => `t${i}`);
    const short = build(names);
    expect(short).toBeLessThan(4096);
    // Lengthen names until the environment is exactly 4096 bytes (each added character is one byte).
    let missing = 4096 - short;
    const padded = names.map((n) => {
      const add = Math.min(missing, 128 - n.length);
      missing -= add;
      return n + 'x'.repeat(add);
    });
    expect(missing).toBe(0);
    expect(build(padded)).toBe(4096);
    padded[0] = `${padded[0]!.slice(0, 127)}yy`.slice(0, 128);
    padded[padded.length - 1] += 'y';
    expect(() => build(padded)).toThrow(
      expect.objectContaining({
        code: 'VPCM_USAGE',
        message: expect.stringMatching(/with 40 named database\(s\) the migrator's environment is at least 4097 bytes/),
      }) as MigrateError,
    );
  });

  it('counts a secret ARN known only at deploy at its least, and refuses a list that cannot fit', () => {
    const { stack: s, vpc } = newStack('EnvRefs');
    const make = (count: number) =>
      new MigrationWorker(s, `W${count}`, {
        vpc,
        database: { hostname: 'own.internal', port: 5432 },
        secret: secretsmanager.Secret.fromSecretCompleteArn(s, `Own${count}`, OWN_SECRET),
        setupReaderRole: false,
        databases: Array.from({ length: count }, (_, i) => ({
          name: `tenant-${i}`,
          secret: new secretsmanager.Secret(s, `Tenant${count}x${i}`),
        })),
      });
    expect(() => make(40)).not.toThrow();
    expect(() => make(60)).toThrow(/over Lambda's 4096-byte limit/);
  });

  it("grants kms:Decrypt on an imported named secret's secretEncryptionKey, through Secrets Manager only", () => {
    const made = workerWith('NamedKey', (s) => [
      {
        name: 'eu',
        secret: secretsmanager.Secret.fromSecretCompleteArn(s, 'Eu', EU_SECRET),
        secretEncryptionKey: kms.Key.fromKeyArn(s, 'EuKey', KEY_ARN),
      },
    ]);
    const statements = statementsOf(made.idOf(made.worker.fn.role as never), made.template.Resources);
    const decrypts = statements.filter((st) => asList(st.Action).includes('kms:Decrypt'));
    expect(decrypts).toEqual([DECRYPT_VIA_SECRETS_MANAGER]);
  });

  it('grants a secret known by name (partial ARN) on its six-character suffix, and lists that partial ARN', () => {
    const made = workerWith('PartialArn', (s) => [
      { name: 'ca', secret: secretsmanager.Secret.fromSecretNameV2(s, 'Ca', 'prod/tenant-ca') },
    ]);
    const text = JSON.stringify(made.template);
    // GetSecretValue with the partial ARN is authorised against the full one: name, hyphen, six characters.
    expect(text).toContain(':secretsmanager:eu-west-1:123456789012:secret:prod/tenant-ca-??????"');
    expect(text).not.toMatch(/secret:prod\/tenant-ca\*|secret:\*/);
    const variables = made.template.Resources[made.idOf(made.worker.fn)].Properties.Environment.Variables;
    const env = JSON.stringify(variables[WORKER_ENV.databases]);
    expect(env).toContain(':secretsmanager:eu-west-1:123456789012:secret:prod/tenant-ca\\"');
    expect(made.warnings()).toEqual([]);

    // A name that looks like it carries the suffix is read as a complete ARN, and not found: said at synth.
    const ambiguous = workerWith('SuffixLike', (s) => [
      { name: 'ca', secret: secretsmanager.Secret.fromSecretNameV2(s, 'Ca', 'tenant-ca-prod01') },
    ]);
    expect(ambiguous.warnings()).toEqual([expect.stringContaining('"tenant-ca-prod01" is known by partial ARN')]);
  });

  it('keeps cdk-nag AwsSolutions clean on the construct', () => {
    const report = new AwsSolutionsChecks(stack).validateScope(worker);
    const findings = report.violations.flatMap((v) =>
      v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath}: ${v.description}`),
    );
    expect(findings).toEqual([]);
  });
});
