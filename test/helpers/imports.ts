/** The import statements of a source file, read with a regular expression (enough for our own code). */
import path from 'node:path';

export interface Edge {
  from: string;
  /** Repo-relative file for a relative import, else the package specifier. */
  to: string;
  typeOnly: boolean;
}

/** Static imports, re-exports and dynamic `import('…')` of one file. */
export function importsOf(file: string, text: string): Edge[] {
  const edges: Edge[] = [];
  const re =
    /(?:^|\n)\s*(import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
  for (const m of text.matchAll(re)) {
    const spec = (m[3] ?? m[4]) as string;
    const typeOnly = m[2] !== undefined;
    const to = spec.startsWith('.')
      ? path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)).replace(/\.js$/, '.ts')
      : spec;
    edges.push({ from: file, to, typeOnly });
  }
  return edges;
}
