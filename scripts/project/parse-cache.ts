/**
 * The parse cache: what PostgreSQL's parser made of each migration file (its statement split,
 * Drizzle's chunk split) and deploy's lint findings, kept between runs so an unchanged history
 * is not parsed again. Parsing the 820-file trigger.dev history costs ~1 s of CPU per run; a
 * warm cache answers without loading the parser at all.
 *
 * Where: `node_modules/.cache/vpc-migrate/parse.json` of the project (the nearest package.json
 * above the directory the command ran in), the npm convention find-cache-dir follows; `CACHE_DIR`
 * moves it to `$CACHE_DIR/vpc-migrate/`; `VPC_MIGRATE_CACHE=0` turns it off. No package.json:
 * no cache, as find-cache-dir.
 *
 * Trust: the file is an optimisation, never an input. Its header must name this tool, this cache
 * format and this build (package version plus the code's own files, so a new version or an
 * edited checkout starts over); otherwise it is ignored and rewritten. Each entry is checked
 * against its schema (the wire contract's own for statement spans) and against the text it is
 * used for before it is used; a bad entry is parsed again. Entries are keyed by the file's
 * checksum (sha256 of its text), lint findings by a hash of the whole sequence of checksums
 * they depend on. Writes go to a temporary file renamed into place, so a concurrent reader
 * never sees half a file, and a failed write is only reported through `onWriteError`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as v from 'valibot';
import {
  type ExecutionMode,
  ExecutionModeSchema,
  type StatementSpan,
  StatementSpanSchema,
} from '../../lambda/contract/index.js';
import type { ModelSnapshot } from '../lint/schema.js';
import type { Finding } from '../lint/types.js';
import { invocationDir } from './invocation-dir.js';

/** What a run reads from and adds to the cache. {@link NO_PARSE_CACHE} when it is off. */
export interface ParseCache {
  /** The statement split of `file` (core/split.ts), when cached and consistent with its text. */
  split(file: CachedFile): CachedSplit | undefined;
  rememberSplit(file: CachedFile, split: CachedSplit): void;
  /** A Drizzle file's chunk split (formats/drizzle/chunks.ts). */
  drizzle(file: CachedFile): CachedDrizzleSplit | undefined;
  rememberDrizzle(file: CachedFile, split: CachedDrizzleSplit): void;
  /** Lint findings under a key from {@link lintKey}. */
  lint(key: string): Finding[] | undefined;
  rememberLint(key: string, findings: readonly Finding[]): void;
  /**
   * The linter's schema model after the longest learned history it has: `keys` from
   * {@link historyKeys}, `learned` how many history files the model holds.
   */
  model(keys: readonly string[]): { learned: number; snapshot: ModelSnapshot } | undefined;
  rememberModel(key: string, snapshot: ModelSnapshot): void;
  /** Writes what was added, atomically; never throws (a cache that cannot be written is no cache). */
  save(): Promise<void>;
}

/**
 * A file's statement split as core/split.ts makes it (its `SplitResult`). Spelled out here, not
 * imported: the cache sits below the formats and the splitter in the import graph.
 */
export interface CachedSplit {
  statements: StatementSpan[];
  mode: ExecutionMode;
  parseError?: { message: string; line: number; column: number };
}

/** A Drizzle file's chunk split as formats/drizzle/chunks.ts makes it (its `DrizzleSplit`). */
export interface CachedDrizzleSplit {
  chunks: StatementSpan[];
  statements: StatementSpan[];
  mode: ExecutionMode;
  parseErrors: { chunk: number; line: number; message: string }[];
  refused: { chunk: number; line: number; message: string }[];
}

/** A migration as the cache knows it: its text and the sha256 that names it. */
export interface CachedFile {
  checksum: string;
  sql: string;
}

/** A cache that holds nothing and keeps nothing: `VPC_MIGRATE_CACHE=0`, or no project to keep it in. */
export const NO_PARSE_CACHE: ParseCache = {
  split: () => undefined,
  rememberSplit: () => undefined,
  drizzle: () => undefined,
  rememberDrizzle: () => undefined,
  lint: () => undefined,
  rememberLint: () => undefined,
  model: () => undefined,
  rememberModel: () => undefined,
  save: async () => undefined,
};

export interface ParseCacheOptions {
  env?: NodeJS.ProcessEnv;
  /** Where the project is looked for (default: the directory the command ran in). */
  cwd?: string;
  /** Told when the cache could not be written (the run goes on regardless). */
  onWriteError?: (error: unknown) => void;
  /**
   * When the file cache is off (or there is no project): a cache held in memory for this run
   * instead of none. A rollout wants it, so many targets' deploys parse and lint the files once.
   */
  inMemoryWhenOff?: boolean;
}

/** The file's name inside the cache directory. */
export const PARSE_CACHE_FILE = 'parse.json';
/** The tool's directory name under node_modules/.cache (or CACHE_DIR). */
const CACHE_NAME = 'vpc-migrate';
/** Bumped whenever the shape of the file or of an entry changes. */
const CACHE_FORMAT = 2;
const TOOL = 'vpc-migrate parse cache';
/** Oldest entries go first beyond these: a long-lived project's edits must not grow the file forever. */
const MAX_FILE_ENTRIES = 20_000;
const MAX_LINT_ENTRIES = 16;
/** A model is only ever wanted for the newest history: a few cover switching between branches. */
const MAX_MODEL_ENTRIES = 4;

/** Where the cache file lives for this run, or undefined when it is off. */
export function parseCachePath(
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = invocationDir(env),
): string | undefined {
  const switchedOff = env.VPC_MIGRATE_CACHE?.trim().toLowerCase();
  if (switchedOff === '0' || switchedOff === 'false' || switchedOff === 'off') return undefined;
  if (env.CACHE_DIR) return path.join(path.resolve(cwd, env.CACHE_DIR), CACHE_NAME, PARSE_CACHE_FILE);
  const project = packageDir(cwd);
  return project ? path.join(project, 'node_modules', '.cache', CACHE_NAME, PARSE_CACHE_FILE) : undefined;
}

/** The nearest directory at or above `from` holding a package.json (pkg-dir's rule). */
function packageDir(from: string): string | undefined {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    try {
      if (statSync(path.join(dir, 'package.json')).isFile()) return dir;
    } catch {
      // not here: one level up
    }
    if (path.dirname(dir) === dir) return undefined;
  }
}

/**
 * The cache for this run: read from disk when present and valid, else empty (and rewritten on
 * save). Never throws for what it finds on disk.
 */
export async function openParseCache(options: ParseCacheOptions = {}): Promise<ParseCache> {
  const file = parseCachePath(options.env ?? process.env, options.cwd ?? invocationDir(options.env ?? process.env));
  if (!file) return options.inMemoryWhenOff ? new FileParseCache(undefined, '', undefined, undefined) : NO_PARSE_CACHE;
  const stamp = buildStamp();
  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    // No cache yet (or unreadable): start empty.
  }
  return new FileParseCache(file, stamp, text === undefined ? undefined : readBody(text, stamp), options.onWriteError);
}

/**
 * The key of deploy's lint findings: the whole sequence they were computed over (every local
 * migration in order, by name and checksum, and whether it was linted or only learned from) and
 * the options that change them.
 */
export function lintKey(
  sequence: readonly { name: string; checksum: string; linted: boolean }[],
  options: { defaultSchema?: string; scope: string },
): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify([options.scope, options.defaultSchema ?? null]));
  for (const m of sequence) hash.update(`\n${m.linted ? '+' : '-'}${m.checksum} ${m.name}`);
  return hash.digest('hex');
}

/**
 * The keys of the linter's model after each prefix of the history (`keys[i]`: after its first `i`
 * files), so a deploy finds the model the last one learned and parses only the files added since.
 */
export function historyKeys(history: readonly { name: string; checksum: string }[], defaultSchema?: string): string[] {
  const hash = createHash('sha256').update(JSON.stringify(['model', defaultSchema ?? null]));
  const keys = [hash.copy().digest('hex')];
  for (const m of history) {
    hash.update(`\n${m.checksum} ${m.name}`);
    keys.push(hash.copy().digest('hex'));
  }
  return keys;
}

// ---------------------------------------------------------------------------------------------
// The file

interface Body {
  tool: string;
  format: number;
  build: string;
  /** checksum → entry; unknown to schemas until used (an entry is checked when read). */
  splits: Record<string, unknown>;
  drizzle: Record<string, unknown>;
  lints: Record<string, unknown>;
  models: Record<string, unknown>;
}

const HeaderSchema = v.object({
  tool: v.literal(TOOL),
  format: v.literal(CACHE_FORMAT),
  build: v.string(),
  splits: v.record(v.string(), v.unknown()),
  drizzle: v.record(v.string(), v.unknown()),
  lints: v.record(v.string(), v.unknown()),
  models: v.record(v.string(), v.unknown()),
});

/** The file's body when it is ours, of this build; undefined (start over) for anything else. */
function readBody(text: string, stamp: string): Body | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const header = v.safeParse(HeaderSchema, json);
  if (!header.success || header.output.build !== stamp) return undefined;
  return header.output;
}

const ParseErrorSchema = v.strictObject({
  message: v.string(),
  line: v.pipe(v.number(), v.safeInteger(), v.minValue(1)),
  column: v.pipe(v.number(), v.safeInteger(), v.minValue(1)),
});

const SplitSchema = v.strictObject({
  statements: v.array(StatementSpanSchema),
  mode: ExecutionModeSchema,
  parseError: v.optional(ParseErrorSchema),
});

const ChunkIssueSchema = v.strictObject({
  chunk: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
  line: v.pipe(v.number(), v.safeInteger(), v.minValue(1)),
  message: v.string(),
});

const DrizzleSchema = v.strictObject({
  chunks: v.array(StatementSpanSchema),
  statements: v.array(StatementSpanSchema),
  mode: ExecutionModeSchema,
  parseErrors: v.array(ChunkIssueSchema),
  refused: v.array(ChunkIssueSchema),
});

const FindingSchema = v.strictObject({
  rule: v.string(),
  severity: v.picklist(['error', 'warning']),
  migration: v.string(),
  file: v.string(),
  line: v.pipe(v.number(), v.safeInteger()),
  statement: v.string(),
  message: v.string(),
  why: v.string(),
  fix: v.string(),
  fixable: v.boolean(),
  statementIndex: v.pipe(v.number(), v.safeInteger()),
});
const FindingsSchema = v.array(FindingSchema);

const count = v.pipe(v.number(), v.safeInteger(), v.minValue(0));
const OriginSchema = v.strictObject({ migration: v.string(), line: count });
const ModelSchema = v.strictObject({
  defaultSchema: v.string(),
  step: count,
  opaque: v.array(v.strictObject({ step: count, text: v.string() })),
  tables: v.array(
    v.strictObject({
      key: v.string(),
      columns: v.array(v.strictTuple([v.string(), v.nullable(v.string())])),
      origin: OriginSchema,
    }),
  ),
  indexes: v.array(
    v.strictObject({
      key: v.string(),
      table: v.string(),
      columns: v.array(v.string()),
      constraint: v.boolean(),
      origin: OriginSchema,
      step: count,
    }),
  ),
  enums: v.array(v.strictObject({ key: v.string(), values: v.array(v.string()), origin: OriginSchema })),
});

/** The keys a statement span may carry: the span schema is not strict, and nothing unknown may reach a payload. */
const SPAN_KEYS = new Set(['start', 'end', 'line', 'kind', 'creates', 'comparable']);

/** Every span in the entry (statements, chunks) has only the keys a span may carry. */
function onlyKnownKeys(entry: object): boolean {
  const lists = ['statements', 'chunks'].map((k) => (entry as Record<string, unknown>)[k]);
  return lists.every(
    (list) => !Array.isArray(list) || list.every((span: object) => Object.keys(span).every((k) => SPAN_KEYS.has(k))),
  );
}

/** Spans that lie inside the text, in order, on plausible lines: what the worker will cut the file at. */
function spansFit(spans: readonly { start: number; end: number; line: number }[], sql: string): boolean {
  let after = 0;
  for (const s of spans) {
    if (s.start < after || s.end <= s.start || s.end > sql.length || s.line < 1) return false;
    after = s.end;
  }
  return true;
}

/** Chunks may end where the next begins and statements restart inside each chunk: only bounds are checked. */
function spansInside(spans: readonly { start: number; end: number; line: number }[], sql: string): boolean {
  return spans.every((s) => s.start >= 0 && s.end > s.start && s.end <= sql.length && s.line >= 1);
}

class FileParseCache implements ParseCache {
  private readonly splits: Map<string, unknown>;
  private readonly drizzleSplits: Map<string, unknown>;
  private readonly lints: Map<string, unknown>;
  private readonly models: Map<string, unknown>;
  /** Entries already checked against their schema (or made by this run): checked once per run. */
  private readonly valid = new WeakSet<object>();
  private dirty: boolean;

  constructor(
    /** Undefined: held in memory only, never written. */
    private readonly file: string | undefined,
    private readonly stamp: string,
    body: Body | undefined,
    private readonly onWriteError: ((error: unknown) => void) | undefined,
  ) {
    this.splits = new Map(Object.entries(body?.splits ?? {}));
    this.drizzleSplits = new Map(Object.entries(body?.drizzle ?? {}));
    this.lints = new Map(Object.entries(body?.lints ?? {}));
    this.models = new Map(Object.entries(body?.models ?? {}));
    // A file that was missing, foreign, corrupt or of another build is replaced on save.
    this.dirty = body === undefined;
  }

  split(file: CachedFile): CachedSplit | undefined {
    const entry = this.checked(this.splits, file.checksum, SplitSchema);
    if (entry && !spansFit(entry.statements, file.sql)) return this.drop(this.splits, file.checksum);
    return entry;
  }

  rememberSplit(file: CachedFile, split: CachedSplit): void {
    this.put(this.splits, file.checksum, split, MAX_FILE_ENTRIES);
  }

  drizzle(file: CachedFile): CachedDrizzleSplit | undefined {
    const entry = this.checked(this.drizzleSplits, file.checksum, DrizzleSchema);
    if (entry && !(spansInside(entry.chunks, file.sql) && spansInside(entry.statements, file.sql))) {
      return this.drop(this.drizzleSplits, file.checksum);
    }
    return entry;
  }

  rememberDrizzle(file: CachedFile, split: CachedDrizzleSplit): void {
    this.put(this.drizzleSplits, file.checksum, split, MAX_FILE_ENTRIES);
  }

  lint(key: string): Finding[] | undefined {
    // Rule ids are checked as strings: findings are only ever printed and counted.
    return this.checked(this.lints, key, FindingsSchema) as Finding[] | undefined;
  }

  rememberLint(key: string, findings: readonly Finding[]): void {
    this.put(this.lints, key, findings, MAX_LINT_ENTRIES);
  }

  model(keys: readonly string[]): { learned: number; snapshot: ModelSnapshot } | undefined {
    for (let learned = keys.length - 1; learned > 0; learned--) {
      if (!this.models.has(keys[learned]!)) continue;
      const snapshot = this.checked(this.models, keys[learned]!, ModelSchema);
      if (snapshot) return { learned, snapshot };
    }
    return undefined;
  }

  rememberModel(key: string, snapshot: ModelSnapshot): void {
    this.put(this.models, key, snapshot, MAX_MODEL_ENTRIES);
  }

  async save(): Promise<void> {
    if (!this.dirty || this.file === undefined) return;
    const body: Body = {
      tool: TOOL,
      format: CACHE_FORMAT,
      build: this.stamp,
      splits: Object.fromEntries(this.splits),
      drizzle: Object.fromEntries(this.drizzleSplits),
      lints: Object.fromEntries(this.lints),
      models: Object.fromEntries(this.models),
    };
    const temp = `${this.file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await mkdir(path.dirname(this.file), { recursive: true });
      await writeFile(temp, JSON.stringify(body));
      await rename(temp, this.file);
      this.dirty = false;
    } catch (error) {
      await rm(temp, { force: true }).catch(() => undefined);
      this.onWriteError?.(error);
    }
  }

  /** The entry under `key` when it matches `schema`; one that does not is dropped (and rewritten). */
  private checked<S extends v.GenericSchema>(
    entries: Map<string, unknown>,
    key: string,
    schema: S,
  ): v.InferOutput<S> | undefined {
    const raw = entries.get(key);
    if (raw === undefined) return undefined;
    if (typeof raw !== 'object' || raw === null) return this.drop(entries, key);
    if (this.valid.has(raw)) return raw as v.InferOutput<S>;
    // The entry itself, not valibot's copy: its keys stay in the order the parse wrote them, so a
    // cached payload is byte for byte the one a cold run sends.
    if (!v.is(schema, raw) || !onlyKnownKeys(raw)) return this.drop(entries, key);
    this.valid.add(raw);
    return raw as v.InferOutput<S>;
  }

  private drop(entries: Map<string, unknown>, key: string): undefined {
    entries.delete(key);
    this.dirty = true;
    return undefined;
  }

  private put(entries: Map<string, unknown>, key: string, value: object, max: number): void {
    // Re-inserted at the end: the map's order is the eviction order.
    entries.delete(key);
    entries.set(key, value);
    this.valid.add(value);
    while (entries.size > max) entries.delete(entries.keys().next().value as string);
    this.dirty = true;
  }
}

// ---------------------------------------------------------------------------------------------
// The build stamp

let stampMemo: string | undefined;

/**
 * Which code made the cache: the package's version and the size and mtime of the code itself.
 * Installed or run through scripts/run-cli.mjs, that code is one bundle (dist/cli.mjs, rebuilt
 * whenever a source changes); run from the TypeScript sources (tests, tsx), it is every source
 * file under scripts/ and lambda/contract/, so an edit to the splitter or a rule is never
 * answered by entries the old code made.
 */
export function buildStamp(): string {
  if (stampMemo) return stampMemo;
  const self = fileURLToPath(import.meta.url);
  const hash = createHash('sha256');
  const root = packageDir(path.dirname(self));
  if (root) hash.update(`${readVersion(root)}\n`);
  const files = self.endsWith('.ts') && root ? sourceFiles(root) : [self];
  for (const file of files) {
    try {
      const s = statSync(file);
      hash.update(`${file} ${s.size} ${s.mtimeMs}\n`);
    } catch {
      hash.update(`${file} missing\n`);
    }
  }
  stampMemo = hash.digest('hex');
  return stampMemo;
}

function readVersion(root: string): string {
  try {
    return String((JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version?: unknown }).version);
  } catch {
    return 'unknown';
  }
}

/** The sources whose code decides a parse or a finding, plus the manifests that pin the parser. */
function sourceFiles(root: string): string[] {
  const files = ['package.json', 'pnpm-lock.yaml'].map((f) => path.join(root, f));
  for (const dir of ['scripts', path.join('lambda', 'contract')]) {
    try {
      for (const entry of readdirSync(path.join(root, dir), { recursive: true, encoding: 'utf8' })) {
        if (entry.endsWith('.ts')) files.push(path.join(root, dir, entry));
      }
    } catch {
      files.push(path.join(root, dir));
    }
  }
  return files.sort();
}
