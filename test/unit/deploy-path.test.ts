/**
 * The path of one Prisma migration from `vpc-migrate deploy` to its `_prisma_migrations` row, as
 * the code calls it (issue 25). Each step is a function in a file; the test reads the sources with
 * the TypeScript compiler and checks that the function is defined there and really calls the next
 * step (through an interface the call resolves to the interface member, so the next step must be
 * an implementation of that member). Two hops are not calls TypeScript can see and are checked as
 * what they are: the bin loading the CLI bundle, and the Lambda Invoke. A `return` goes back to
 * an earlier step, which must then call the next one. The README's drawing lists these files in
 * this order, and the counts it states are the ones computed here.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { API, SymbolFlags, TypeFlags, type UnionType } from 'typescript/unstable/sync';
import type { Node } from 'typescript/unstable/ast';
import {
  isCallExpression,
  isClassDeclaration,
  isFunctionDeclaration,
  isIdentifier,
  isMethodDeclaration,
  isObjectLiteralExpression,
  isPropertyAccessExpression,
  isPropertyAssignment,
  isStringLiteral,
  isVariableDeclaration,
  isVariableStatement,
} from 'typescript/unstable/ast/is';
import { afterAll, describe, expect, it } from 'vitest';
import { importsOf } from '../helpers/imports.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const read = (file: string) => readFileSync(path.join(repoRoot, file), 'utf8');

/** How a step is reached from the one before it. */
type Hop = 'start' | 'call' | 'return' | 'bundle' | 'invoke';
interface Step {
  file: string;
  /** `name`, or `outer.inner` for a function inside a declaration (an object's member, a class's method). */
  fn: string;
  hop: Hop;
}

export const DEPLOY_PATH: Step[] = [
  { file: 'scripts/run-cli.mjs', fn: 'run', hop: 'start' },
  { file: 'scripts/cli.ts', fn: 'main', hop: 'bundle' },
  { file: 'scripts/commands/deploy.ts', fn: 'deployCommand.run', hop: 'call' },
  { file: 'scripts/commands/deploy.ts', fn: 'deploy', hop: 'call' },
  { file: 'scripts/formats/select.ts', fn: 'loadState', hop: 'call' },
  { file: 'scripts/formats/prisma/prisma.ts', fn: 'prismaFormat.loadLocal', hop: 'call' },
  { file: 'scripts/formats/prisma/discover.ts', fn: 'discoverMigrations', hop: 'call' },
  { file: 'scripts/formats/select.ts', fn: 'loadState', hop: 'return' },
  { file: 'scripts/formats/prisma/prisma.ts', fn: 'prismaFormat.plan', hop: 'call' },
  { file: 'scripts/core/plan.ts', fn: 'plan', hop: 'call' },
  { file: 'scripts/commands/deploy.ts', fn: 'deploy', hop: 'return' },
  { file: 'scripts/formats/prisma/prisma.ts', fn: 'prismaFormat.payloads', hop: 'call' },
  { file: 'scripts/core/payloads.ts', fn: 'splitPayloads', hop: 'call' },
  { file: 'scripts/commands/deploy.ts', fn: 'deploy', hop: 'return' },
  { file: 'scripts/commands/deploy.ts', fn: 'applyBatches', hop: 'call' },
  { file: 'scripts/transport/invoke.ts', fn: 'connectWorker.apply', hop: 'call' },
  { file: 'lambda/handler.ts', fn: 'createHandler', hop: 'invoke' },
  { file: 'lambda/handler.ts', fn: 'dispatch', hop: 'call' },
  { file: 'lambda/apply-batch.ts', fn: 'applyBatch', hop: 'call' },
  { file: 'lambda/contract/batch-order.ts', fn: 'runInOrder', hop: 'call' },
  { file: 'lambda/apply-batch.ts', fn: 'applyBatch.run', hop: 'call' },
  { file: 'lambda/prisma/apply.ts', fn: 'readBatch.execute', hop: 'call' },
  { file: 'lambda/prisma/apply.ts', fn: 'runMigration', hop: 'call' },
  { file: 'lambda/prisma/apply.ts', fn: 'runTransactional', hop: 'call' },
  // The row's text goes after the file, in its query (lambda/statement-tail.ts), one round trip.
  { file: 'lambda/prisma/prisma-ledger.ts', fn: 'PrismaLedger.finishedRowSql', hop: 'call' },
  // The statement's text is the contract's, shared with compatibility mode (issue 25).
  { file: 'lambda/contract/prisma-ledger-sql.ts', fn: 'insertLedgerRowSql', hop: 'call' },
];

/**
 * Calls the path steps over: each returns a value the step goes on with (the migration does not
 * travel through it). Checked as real calls from the step named, so the drawing may skip them.
 */
export const STEPPED_OVER: { from: Step; file: string; fn: string }[] = [
  { from: DEPLOY_PATH[1]!, file: 'scripts/transport/target.ts', fn: 'resolveTarget' },
  { from: DEPLOY_PATH[1]!, file: 'scripts/transport/invoke.ts', fn: 'connectWorker' },
  { from: DEPLOY_PATH[3]!, file: 'scripts/core/sql-parser.ts', fn: 'sqlParser' },
  { from: DEPLOY_PATH[12]!, file: 'scripts/core/split.ts', fn: 'splitMigration' },
  // The batching loop deploy shares with drift; it packs the payloads (payloads.ts batchBySize).
  { from: DEPLOY_PATH[14]!, file: 'scripts/core/send-in-batches.ts', fn: 'sendInBatches' },
  { from: DEPLOY_PATH[16]!, file: 'lambda/contract/validate.ts', fn: 'parseEvent' },
  { from: DEPLOY_PATH[18]!, file: 'lambda/lock.ts', fn: 'acquireMigrationLock' },
  { from: DEPLOY_PATH[20]!, file: 'lambda/session.ts', fn: 'sessionResetStatements' },
  // The session reset and the file, one query (issue 26).
  { from: DEPLOY_PATH[23]!, file: 'lambda/session-reset.ts', fn: 'PendingReset.begin' },
  { from: DEPLOY_PATH[23]!, file: 'lambda/statement-tail.ts', fn: 'acceptsAppendedStatements' },
];

// TypeScript 7's compiler API: the checker runs in tsgo, reached over a pipe (typescript/unstable/sync).
const api = new API({ cwd: repoRoot });
const project = api.updateSnapshot({ openProjects: [path.join(repoRoot, 'tsconfig.json')] }).getProjects()[0]!;
const checker = project.checker;
afterAll(() => api.close());

/** A node's identity across the pipe: its file and position. */
const keyOf = (n: Node) => `${n.getSourceFile().fileName}:${n.pos}`;

function nameOf(node: Node): string | undefined {
  if (
    isFunctionDeclaration(node) ||
    isMethodDeclaration(node) ||
    isPropertyAssignment(node) ||
    isVariableDeclaration(node) ||
    isClassDeclaration(node)
  ) {
    const name = node.name;
    return name && (isIdentifier(name) || isStringLiteral(name)) ? name.text : undefined;
  }
  return undefined;
}

/** Every node in `root` (root included) that declares `name`, outermost first. */
function declarations(root: Node, name: string): Node[] {
  const found: Node[] = [];
  const visit = (n: Node): undefined => {
    if (nameOf(n) === name) found.push(n);
    n.forEachChild(visit);
  };
  visit(root);
  return found;
}

/** A step's function: its declaration (`a.b`: `b` declared inside `a`), or, in plain JavaScript, its text. */
function findFunction(step: { file: string; fn: string }): Node | string | undefined {
  if (step.file.endsWith('.mjs')) {
    const text = read(step.file);
    const at = text.indexOf(`\nasync function ${step.fn}(`);
    return at < 0 ? undefined : text.slice(at, text.indexOf('\n}\n', at));
  }
  const [outer, ...inner] = step.fn.split('.');
  const sf = project.program.getSourceFile(path.join(repoRoot, step.file));
  if (!sf) return undefined;
  const topLevel = sf.statements.flatMap((s): Node[] =>
    isVariableStatement(s) ? [...s.declarationList.declarations] : [s],
  );
  let node: Node | undefined = topLevel.find((s) => nameOf(s) === outer);
  for (const part of inner) node = node && declarations(node, part).find((d) => d !== node);
  return node;
}

const textOf = (n: Node | string) => (typeof n === 'string' ? n : n.getText());

/** The interface members `impl` (a member of an object literal) implements, by the literal's contextual type. */
function implemented(impl: Node): string[] {
  const name = nameOf(impl);
  const holder = impl.parent;
  if (!name || !holder || !isObjectLiteralExpression(holder)) return [];
  const type = checker.getContextualType(holder);
  if (!type) return [];
  // An async function's `return { … }` is typed `T | PromiseLike<T>`: the member is T's.
  const types = type.flags & TypeFlags.Union ? (type as UnionType).getTypes() : [type];
  const member = types.map((t) => checker.getPropertyOfType(t, name)).find((p) => p !== undefined);
  return (member?.declarations ?? []).flatMap((d) => {
    const n = d.resolve();
    return n ? [keyOf(n)] : [];
  });
}

/** What each call in `from` resolves to (declarations, aliases followed). */
function callTargets(from: Node): string[] {
  const out: string[] = [];
  const visit = (n: Node): undefined => {
    if (isCallExpression(n)) {
      const callee = isPropertyAccessExpression(n.expression) ? n.expression.name : n.expression;
      let symbol = checker.getSymbolAtLocation(callee);
      if (symbol && symbol.flags & SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol);
      for (const d of symbol?.declarations ?? []) {
        const node = d.resolve();
        if (!node) continue;
        out.push(keyOf(node));
        // `{ readBatch }` or `const f = () => …`: the function is what the name holds.
        if (isVariableDeclaration(node) && node.initializer) out.push(keyOf(node.initializer));
      }
    }
    n.forEachChild(visit);
  };
  visit(from);
  return out;
}

/** Whether `from` calls `to`: directly, or through the interface member `to` implements. */
function calls(from: Node | string, to: Node | string): boolean {
  if (typeof from === 'string' || typeof to === 'string') return false;
  const accepted = new Set([keyOf(to), ...implemented(to)]);
  if ((isPropertyAssignment(to) || isVariableDeclaration(to)) && to.initializer) accepted.add(keyOf(to.initializer));
  return callTargets(from).some((t) => accepted.has(t));
}

function hopHolds(prev: Step, step: Step, seen: Step[]): string | undefined {
  const from = findFunction(prev);
  const to = findFunction(step);
  if (!from || !to) return 'function not found';
  switch (step.hop) {
    case 'start':
      return 'only the first step starts';
    case 'call':
      return calls(from, to) ? undefined : `${prev.fn} does not call it`;
    case 'return':
      if (seen.some((s) => s.file === step.file && s.fn === step.fn)) return undefined;
      return 'returns to a step not on the path';
    case 'bundle': {
      // run-cli.mjs bundles ENTRY (scripts/cli.ts) and calls the bundle's `main`.
      const runCli = read(prev.file);
      const entry = `path.join(ROOT, ${step.file
        .split('/')
        .map((p) => `'${p}'`)
        .join(', ')})`;
      const exportsMain = /^export async function main\(/m.test(read(step.file));
      return runCli.includes(entry) && /\bmain\(/.test(textOf(from)) && exportsMain
        ? undefined
        : 'the bin does not load this entry';
    }
    case 'invoke': {
      // The action the client sends is one the worker entry point dispatches.
      // `{ action: 'apply', … }`, or a typed client's `call('apply', …)`.
      const said = /\baction: '([\w-]+)'|\(\s*'([\w-]+)'/.exec(textOf(from));
      const action = said?.[1] ?? said?.[2];
      const entry = /new URL\('\.\.\/([\w/.-]+)', import\.meta\.url\)/.exec(read('infra/bundling.ts'))?.[1];
      const dispatch = findFunction({ file: step.file, fn: 'dispatch' });
      const dispatched = dispatch !== undefined && textOf(dispatch).includes(`case '${action}':`);
      const exported = new RegExp(`^export const handler\\b.*= ${step.fn}\\(`, 'm').test(read(step.file));
      return action && entry === step.file && /InvokeCommand/.test(read(prev.file)) && dispatched && exported
        ? undefined
        : 'the Invoke does not reach this handler';
    }
  }
}

/** The README's drawing: numbered lines ` 1 scripts/run-cli.mjs   …` of the first code block under `## Layout`. */
function drawnFiles(readme: string): string[] {
  const block = readme.slice(readme.indexOf('\n## Layout\n')).split('```')[1] ?? '';
  return [...block.matchAll(/^\s*\d+\s+(\S+)/gm)].map((m) => m[1] as string);
}

const files = [...new Set(DEPLOY_PATH.map((s) => s.file))];
const returns = DEPLOY_PATH.filter((s) => s.hop === 'return').length;

describe('the path of one Prisma migration, by its real calls', () => {
  it('every step names a function defined in its file', () => {
    const missing = [...DEPLOY_PATH, ...STEPPED_OVER].filter((s) => !findFunction(s)).map((s) => `${s.file} ${s.fn}`);
    expect(missing).toEqual([]);
  });

  it('each step is reached from the one before it as it says (a call, a return, the bundle, the Invoke)', () => {
    const broken = DEPLOY_PATH.slice(1).flatMap((step, i) => {
      const why = hopHolds(DEPLOY_PATH[i]!, step, DEPLOY_PATH.slice(0, i));
      return why ? [`${DEPLOY_PATH[i]!.fn} -> ${step.file} ${step.fn}: ${why}`] : [];
    });
    expect(broken).toEqual([]);
  });

  it('after a return, the step returned to calls the next step', () => {
    const broken = DEPLOY_PATH.filter((s, i) => s.hop === 'return' && DEPLOY_PATH[i + 1]?.hop !== 'call');
    expect(broken.map((s) => s.fn)).toEqual([]);
    expect(broken).toEqual([]);
  });

  it('the calls it steps over are real calls of the step named', () => {
    const broken = STEPPED_OVER.filter((s) => !calls(findFunction(s.from)!, findFunction(s)!));
    expect(broken.map((s) => `${s.from.fn} -> ${s.fn}`)).toEqual([]);
  });

  it('starts at the bin and ends at the INSERT of the row', () => {
    const pkg = JSON.parse(read('package.json')) as { bin: Record<string, string> };
    expect(pkg.bin['vpc-migrate']).toBe(DEPLOY_PATH[0]!.file);
    const last = findFunction(DEPLOY_PATH.at(-1)!)!;
    expect(textOf(last)).toMatch(/INSERT INTO \$\{table\}/);
    expect(read(DEPLOY_PATH.at(-1)!.file)).toContain('PRISMA_LEDGER_TABLE');
  });

  it('every file on it is imported by one before it, except where the bundle and the Invoke lead', () => {
    const unreached = files.slice(1).filter((file, i) => {
      const hop = DEPLOY_PATH.find((s) => s.file === file)!.hop;
      const importsIt = (earlier: string) => importsOf(earlier, read(earlier)).some((e) => e.to === file);
      const imported = files.slice(0, i + 1).some(importsIt);
      return hop !== 'bundle' && hop !== 'invoke' && !imported;
    });
    expect(unreached).toEqual([]);
  });

  it('opens at most 15 files with at most 3 returns, as the README draws and counts it', () => {
    expect(files.length).toBeLessThanOrEqual(15);
    expect(returns).toBeLessThanOrEqual(3);
    const readme = read('README.md');
    expect(drawnFiles(readme)).toEqual(files);
    expect(readme).toContain(`${files.length} files, ${returns} returns`);
  });

  it('can fail: a step whose function does not call the next is caught', () => {
    const plan = DEPLOY_PATH.find((s) => s.fn === 'plan')!;
    const notCalled = { file: 'lambda/apply-batch.ts', fn: 'applyBatch', hop: 'call' } as const;
    expect(hopHolds(plan, notCalled, [])).toBe('plan does not call it');
    expect(findFunction({ file: 'scripts/core/plan.ts', fn: 'noSuchFunction' })).toBeUndefined();
  });
});
