/**
 * cdk-nag AwsSolutions on the example stack, the way `infra/app.ts` runs it: findings make
 * synth throw. Every acknowledgement must name its rule, give a reason, and silence a finding
 * that really occurs (no stale or blanket acknowledgements).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Validations, type Acknowledgment } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { afterAll, describe, expect, it } from 'vitest';
import { VpcMigrateStack } from '../../infra/stack.js';

const outdirs: string[] = [];
function newApp(): App {
  const outdir = mkdtempSync(join(tmpdir(), 'vpcm-nag-'));
  outdirs.push(outdir);
  return new App({ outdir });
}

afterAll(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

interface Ack {
  path: string;
  id: string;
  reason: string;
}

/** cdk-nag's rules; aws-cdk-lib records acknowledgements of its own (`CloudFormation-Validate::…`). */
const isNagRule = (id: string) => id.startsWith('AwsSolutions-');

/** Acknowledgements of cdk-nag rules recorded in the construct tree (`Validations.of(x).acknowledge`). */
function acknowledgements(root: IConstruct): Ack[] {
  const acks: Ack[] = [];
  for (const node of root.node.findAll()) {
    for (const entry of node.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [qualified, reason] of Object.entries(entry.data as Record<string, string>)) {
        const id = qualified.replace(/^annotation::/i, '');
        if (isNagRule(id)) acks.push({ path: node.node.path, id, reason });
      }
    }
  }
  return acks;
}

const EXPECTED_RULES = [
  // The migrator and the reader function: logs, VPC access, runtime (one each) …
  'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
  'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
  // … the reader-role set-up's provider framework function (logs) …
  'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
  'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
  'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
  // … which may invoke any version of the migrator, and nothing else.
  'AwsSolutions-IAM5[Resource::<WorkerFunctionAF8A26AF.Arn>:*]',
  'AwsSolutions-L1',
  'AwsSolutions-L1',
  'AwsSolutions-RDS11',
  // The database's master secret only: the reader secret is rotated, so raises no SMG4.
  'AwsSolutions-SMG4',
];

describe('cdk-nag AwsSolutionsChecks', () => {
  it('synthesizes the stack with zero unacknowledged findings', () => {
    const app = newApp();
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    new VpcMigrateStack(app, 'VpcMigrateNag');

    // The same walk the plugin does during synth, for a readable failure.
    const report = new AwsSolutionsChecks(app).validateScope(app);
    const findings = report.violations.flatMap((v) =>
      v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath}: ${v.description}`),
    );
    expect(findings).toEqual([]);
    // And the real thing: the validation plugin fails synth on any finding.
    expect(() => app.synth()).not.toThrow();

    const acks = acknowledgements(app);
    expect(acks.map((a) => a.id).sort()).toEqual(EXPECTED_RULES);
    for (const ack of acks) {
      expect(ack.id, 'a rule id, never a blanket wildcard').toMatch(/^AwsSolutions-[A-Z]+\d+(\[.+\])?$/);
      expect(ack.reason.length, `reason for ${ack.id} at ${ack.path}`).toBeGreaterThanOrEqual(80);
    }
  });

  it('acknowledges only findings that really occur, each on the construct that raises it', () => {
    // Record the acknowledgements instead of applying them, then run the checks.
    const recorded: { path: string; ack: Acknowledgment }[] = [];
    const original = Validations.prototype.acknowledge;
    const scopes = new WeakMap<Validations, IConstruct>();
    const originalOf = Validations.of;
    Validations.of = (scope: IConstruct) => {
      const v = originalOf.call(Validations, scope);
      scopes.set(v, scope);
      return v;
    };
    Validations.prototype.acknowledge = function (this: Validations, ...rules: Acknowledgment[]) {
      const scope = scopes.get(this);
      for (const ack of rules) if (isNagRule(ack.id)) recorded.push({ path: scope?.node.path ?? '?', ack });
    };
    let violations: { rule: string; path: string }[];
    try {
      const app = newApp();
      new VpcMigrateStack(app, 'VpcMigrateNag');
      const report = new AwsSolutionsChecks(app).validateScope(app);
      violations = report.violations.flatMap((v) =>
        v.violatingResources.map((r) => ({ rule: v.ruleName, path: r.constructPath ?? '' })),
      );
    } finally {
      Validations.prototype.acknowledge = original;
      Validations.of = originalOf;
    }

    const covers = (ackPath: string, resourcePath: string) =>
      resourcePath === ackPath || resourcePath.startsWith(ackPath + '/');
    for (const { path, ack } of recorded) {
      const silenced = violations.filter((v) => v.rule === ack.id && covers(path, v.path));
      expect(silenced, `${ack.id} acknowledged at ${path} silences a finding`).not.toEqual([]);
    }
    for (const v of violations) {
      const ack = recorded.find(({ path, ack }) => ack.id === v.rule && covers(path, v.path));
      expect(ack, `${v.rule} at ${v.path} is acknowledged`).toBeDefined();
    }
    expect(recorded.map((r) => r.ack.id).sort()).toEqual(EXPECTED_RULES);
    // The reader secret is rotated: SMG4 is raised for the master secret (under the database) alone.
    expect(violations.filter((v) => v.rule === 'AwsSolutions-SMG4').map((v) => v.path)).toEqual([
      expect.stringMatching(/^VpcMigrateNag\/Database\//),
    ]);
  });
});
