/**
 * The layout's rules, read off the import statements (issue 14): the contract is neutral, the
 * CLI and the stack reach the worker only through it, and nothing imports itself back; in the
 * CLI, the pure core stays apart from transport and each format is reached through one switch.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { importsOf } from '../helpers/imports.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CONTRACT = 'lambda/contract/';
/** The local worker host runs the real worker, as Lambda's runtime does: it may load the entry point. */
const HOSTS: Record<string, string[]> = { 'scripts/local/local-worker.ts': ['lambda/handler.ts'] };

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(path.join(repoRoot, dir), { withFileTypes: true })) {
    const rel = path.posix.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(rel));
    else if (/\.(ts|mts|mjs)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

const files = ['lambda', 'scripts', 'infra'].flatMap(sourceFiles);
const edges = files.flatMap((f) => importsOf(f, readFileSync(path.join(repoRoot, f), 'utf8')));
const packageOf = (spec: string) => (spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);

/** The CLI's pure core: the plan, payload batching, SQL classification, the worker interface. */
const CLI_CORE = 'scripts/core/';
/** How the CLI reaches a worker: Lambda Invoke, the stack lookup, run-sql compatibility, the local endpoint. */
const TRANSPORT_DIRS = ['scripts/transport/', 'scripts/compat/', 'scripts/local/'];
const TRANSPORT_PACKAGES = ['@aws-sdk/', '@smithy/', 'pg'];
const isTransport = (to: string) =>
  TRANSPORT_DIRS.some((dir) => to.startsWith(dir)) ||
  TRANSPORT_PACKAGES.some((p) => to === p || (p.endsWith('/') && to.startsWith(p)));
const FORMAT_DIRS = ['scripts/formats/prisma/', 'scripts/formats/drizzle/'];
const FORMAT_SWITCH = 'scripts/formats/select.ts';
/**
 *  `resolve` is Prisma's own command (`migrate resolve` on `_prisma_migrations`): it reads Prisma's folders directly.
 */
const FORMAT_OWN_COMMANDS: Record<string, string[]> = {
  'scripts/commands/resolve.ts': ['scripts/formats/prisma/discover.ts'],
  // Prisma-only as resolve is: it records _prisma_migrations rows (a Drizzle folder is refused first).
  'scripts/commands/baseline.ts': ['scripts/formats/prisma/discover.ts'],
};

/** Every file and package `from` loads, directly or through other project files. */
function reachableFrom(from: string): Set<string> {
  const seen = new Set<string>();
  const todo = [from];
  while (todo.length > 0) {
    const f = todo.pop() as string;
    for (const e of edges) {
      if (e.from !== f || seen.has(e.to)) continue;
      seen.add(e.to);
      if (e.to.endsWith('.ts')) todo.push(e.to);
    }
  }
  return seen;
}

describe('import graph', () => {
  it('reads the imports it judges (the parser can fail)', () => {
    expect(
      importsOf(
        'scripts/a.ts',
        "import { x } from '../lambda/contract/index.js';\nimport " +
          "type { Y } from './b.js';\nconst m = await import('pg');",
      ),
    ).toEqual([
      { from: 'scripts/a.ts', to: 'lambda/contract/index.ts', typeOnly: false },
      { from: 'scripts/a.ts', to: 'scripts/b.ts', typeOnly: true },
      { from: 'scripts/a.ts', to: 'pg', typeOnly: false },
    ]);
    expect(files).toContain('lambda/contract/index.ts');
    expect(edges.length).toBeGreaterThan(100);
  });

  it('the contract imports no pg, no AWS SDK, nothing of either side', () => {
    const bad = edges.filter(
      (e) =>
        e.from.startsWith(CONTRACT) &&
        // valibot: the wire schemas (pure, no I/O, tree-shaken into the worker bundle).
        (e.to.startsWith('.') || /\.ts$/.test(e.to)
          ? !e.to.startsWith(CONTRACT)
          : !e.to.startsWith('node:') && e.to !== 'valibot'),
    );
    expect(bad).toEqual([]);
  });

  it(
    'outside the worker, only the contract (and, for the ' + 'local host, the entry point) is imported from lambda/',
    () => {
      const bad = edges.filter(
        (e) =>
          !e.from.startsWith('lambda/') &&
          e.to.startsWith('lambda/') &&
          e.to !== 'lambda/contract/index.ts' &&
          !(HOSTS[e.from] ?? []).includes(e.to),
      );
      expect(bad).toEqual([]);
    },
  );

  it('the worker imports nothing of the CLI or the stack', () => {
    const bad = edges.filter(
      (e) => e.from.startsWith('lambda/') && (e.to.startsWith('scripts/') || e.to.startsWith('infra/')),
    );
    expect(bad).toEqual([]);
  });

  it('has no import cycles', () => {
    const next = new Map<string, string[]>();
    for (const e of edges) if (e.to.endsWith('.ts')) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
    const cycles: string[][] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (f: string) => {
      state.set(f, 'open');
      stack.push(f);
      for (const t of next.get(f) ?? []) {
        if (state.get(t) === 'open') cycles.push([...stack.slice(stack.indexOf(t)), t]);
        else if (!state.has(t)) visit(t);
      }
      stack.pop();
      state.set(f, 'done');
    };
    for (const f of files) if (!state.has(f)) visit(f);
    expect(cycles).toEqual([]);
  });

  it(
    "the CLI's pure core (plan, payload batching, SQL classification) " +
      'reaches no transport, not even through another module',
    () => {
      const bad = files
        .filter((f) => f.startsWith(CLI_CORE))
        .flatMap((f) => [...reachableFrom(f)].filter(isTransport).map((to) => `${f} -> ${to}`));
      expect(bad).toEqual([]);
    },
  );

  it(
    'in the CLI, only the entry points (cli.ts, api.ts) ' +
      'and the transport modules import a transport module, ' +
      'the AWS SDK or pg',
    () => {
      const entries = ['scripts/cli.ts', 'scripts/api.ts'];
      const bad = edges.filter(
        (e) => e.from.startsWith('scripts/') && !isTransport(e.from) && !entries.includes(e.from) && isTransport(e.to),
      );
      expect(bad).toEqual([]);
    },
  );

  it('format-specific CLI modules are reached only through the format switch', () => {
    const bad = edges.filter(
      (e) =>
        FORMAT_DIRS.some((dir) => e.to.startsWith(dir) && !e.from.startsWith(dir)) &&
        e.from !== FORMAT_SWITCH &&
        !(FORMAT_OWN_COMMANDS[e.from] ?? []).includes(e.to),
    );
    expect(bad).toEqual([]);
  });

  it('uses only declared packages', () => {
    const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as Record<
      string,
      Record<string, string>
    >;
    const declared = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.devDependencies ?? {})]);
    const bad = edges.filter(
      (e) => !e.to.endsWith('.ts') && !e.to.startsWith('node:') && !declared.has(packageOf(e.to) as string),
    );
    expect(bad).toEqual([]);
  });
});
