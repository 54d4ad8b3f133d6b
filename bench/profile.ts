/**
 * Summaries of V8 CPU profiles (`node --cpu-prof`): self time per function and per package,
 * for the results' "what bounds it" sections.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';

interface CpuNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: CpuNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  totalMs: number;
  /** Sampled time not spent running JavaScript or native code: waiting for I/O. */
  idleMs: number;
  topFunctions: { name: string; where: string; selfMs: number }[];
  byPackage: { name: string; selfMs: number }[];
}

/**
 * Reads the largest `.cpuprofile` in `dir`: a process with loader threads (tsx runs its hooks in
 * one) writes a profile per thread, and the main thread's is the largest.
 */
export async function summarizeProfileDir(dir: string, top = 12): Promise<ProfileSummary> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'));
  const sized = await Promise.all(files.map(async (f) => ({ f, size: (await stat(path.join(dir, f))).size })));
  const largest = sized.sort((a, b) => b.size - a.size)[0]?.f;
  if (!largest) throw new Error(`no .cpuprofile in ${dir}`);
  return summarizeProfile(JSON.parse(await readFile(path.join(dir, largest), 'utf8')) as CpuProfile, top);
}

export function summarizeProfile(profile: CpuProfile, top = 12): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  // Each sample's delta is the time since the previous sample: attribute it to that sample's node.
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  }
  const perFunction = new Map<string, { name: string; where: string; selfMs: number }>();
  const perPackage = new Map<string, number>();
  let idleMs = 0;
  let totalMs = 0;
  for (const [id, ms] of self) {
    const node = byId.get(id);
    if (!node) continue;
    totalMs += ms;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idleMs += ms;
      continue;
    }
    const where = url ? `${shortUrl(url)}:${lineNumber + 1}` : '';
    const name = functionName || '(anonymous)';
    const key = `${name}@${where}`;
    const entry = perFunction.get(key) ?? { name, where, selfMs: 0 };
    entry.selfMs += ms;
    perFunction.set(key, entry);
    const pkg = packageOf(url, functionName);
    perPackage.set(pkg, (perPackage.get(pkg) ?? 0) + ms);
  }
  const round = (n: number) => Math.round(n * 10) / 10;
  return {
    totalMs: round(totalMs),
    idleMs: round(idleMs),
    topFunctions: [...perFunction.values()]
      .sort((a, b) => b.selfMs - a.selfMs)
      .slice(0, top)
      .map((f) => ({ ...f, selfMs: round(f.selfMs) })),
    byPackage: [...perPackage]
      .map(([name, ms]) => ({ name, selfMs: round(ms) }))
      .sort((a, b) => b.selfMs - a.selfMs)
      .slice(0, top),
  };
}

function shortUrl(url: string): string {
  const clean = url.replace(/^file:\/\//, '');
  const at = clean.lastIndexOf('node_modules/');
  if (at !== -1) return clean.slice(at + 'node_modules/'.length).replace(/^\.pnpm\/[^/]+\/node_modules\//, '');
  const repo = clean.indexOf('/main/');
  return repo !== -1 ? clean.slice(repo + '/main/'.length) : clean;
}

function packageOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return 'node: built-ins';
  if (url.startsWith('wasm://')) return "WebAssembly (libpg-query: PostgreSQL's parser)";
  const clean = url.replace(/^file:\/\//, '');
  const at = clean.lastIndexOf('node_modules/');
  if (at === -1) return clean.includes('/dist/') ? 'dist (bundled CLI)' : 'project sources';
  const rest = clean.slice(at + 'node_modules/'.length).split('/');
  return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? url);
}
